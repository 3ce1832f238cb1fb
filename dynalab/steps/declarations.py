"""Every step of the workflow, declared once, in workflow order.

init → predict → test --local → package → test (integrated) → login → upload → status
→ publish, plus unpublish, logout and doctor. Each declaration says what the step needs, what its
fingerprint covers, which action runs it, and its help, flags and examples:
the runner, ``dynalab-cli``, its help and the invoke tasks of a project's own
tasks.py are all made from these. A new step is one more declaration (and
its action).
"""

from dynalab.steps.step import Flag, Need, Step

NAME = Flag("name", "Name of the model (lowercase letters, digits, dashes); optional when only one model is initialised.",
            short="n", value="NAME")
JSON = Flag("json", "Print the step's result as one JSON object on stdout (human lines go to stderr).", kind=bool,
            default=False)
FORCE = Flag("force", "Rerun even if nothing changed since the last pass.", short="f", kind=bool, default=False)
BACKEND = Flag("backend", "Integrated test backend: sandbox or docker (default: the config's, else your settings').",
               short="b", value="BACKEND")
API_URL = Flag("api_url", "Evaluation server (default: $DYNALAB_API_URL, the config's api_url, your settings', "
               "the login's server).", value="URL")
WAIT = Flag("wait", "Follow the model on the server until it is evaluated (exit 0) or failed (exit 9).",
            short="w", kind=bool, default=False)
TIMEOUT = Flag("timeout", "With --wait: give up after this many seconds (exit 10; the server goes on).", kind=float,
               value="SECONDS")

STEPS = (
    Step(
        "init", "Init", "Create the config of a model (and a handler from the template if missing).",
        action="dynalab.steps.actions.init:run", model=False,
        flags=(
            Flag("name", "Name of the model (lowercase letters, digits and dashes).", short="n", value="NAME"),
            Flag("task", "Task code (nli, qa, sentiment, hs, vqa, or one from your server).", short="t", value="TASK"),
            Flag("root_dir", "Project root (default: the current directory).", short="d", value="DIR"),
            Flag("model_checkpoint", "Path to the model checkpoint, relative to the root.", value="PATH"),
            Flag("handler", "Path to the handler .py (created from a template if missing; default handler.py).",
                 value="PATH"),
            Flag("install_requirements", "Install requirements.txt in the deployment environment.", short="r",
                 kind=bool, tristate=True),
            Flag("run_setup", "Install the project's setup.py in the deployment environment.", kind=bool, tristate=True),
            Flag("model_files", "Comma-separated extra files placed next to the handler.", value="FILES"),
            Flag("exclude", "Comma-separated files/folders left out of the package.", value="PATHS"),
            Flag("amend", "Change an existing config: the given fields, or all of them in $EDITOR.", short="a",
                 kind=bool, default=False),
            Flag("rename", "New name for the model (with --amend or alone).", value="NEW_NAME"),
            Flag("yes", "Overwrite an existing config without asking.", short="y", kind=bool, default=False),
        ),
        examples=("dynalab-cli init -n my-model",
                  "dynalab-cli init -n my-model -t nli --model-checkpoint model.pt --model-files vocab.json",
                  "dynalab-cli init -n my-model --amend --exclude data"),
        more="On a terminal, what no flag gives is asked for; without one (CI) a missing value is an error "
             "naming the flag.",
        uses=("config fields",),
    ),
    Step(
        "predict", "Predict", "Run the handler on your own input and check its response against the task.",
        action="dynalab.steps.actions.predict:run", prepare="dynalab.steps.actions.predict:examples",
        needs=(Need("package", when="integrated"),),
        flags=(
            Flag("input", "One example, as a JSON object of the task's inputs (a uid is added if missing).",
                 short="i", value="JSON"),
            Flag("input_file", "A file of examples: one JSON object, or JSON lines (one example a line).",
                 value="FILE"),
            Flag("integrated", "Run it packaged, in the isolated environment of the integrated test.", kind=bool,
                 default=False),
            BACKEND,
        ),
        examples=("dynalab-cli predict -n my-model --input '{\"context\": \"A man sleeps.\", "
                  "\"hypothesis\": \"A person rests.\"}'",
                  "dynalab-cli predict -n my-model --input-file examples.jsonl --integrated"),
        more="Prints each response and the result of the task's checks: \"checks passed\", or the check that "
             "failed with its hint (exit 3, or 4 with --integrated).",
    ),
    Step(
        "local_test", "Local test", "Run the handler on the task's mock inputs in your own environment.",
        action="dynalab.steps.actions.local_test:run", skipped="dynalab.steps.actions.local_test:skipped",
        command="test", switch=Flag("local", "Run only the local test (in your own environment).", short="l",
                                    kind=bool, default=False),
        aliases=("local-test",),
        covers=("dynalab", "python", "torch", "config", "task", "files"),
        flags=(FORCE,),
        examples=("dynalab-cli test --local -n my-model",),
    ),
    Step(
        "package", "Package", "Build the archive exactly as upload will send it; print its path, size and sha256.",
        action="dynalab.steps.actions.package:run",
        flags=(Flag("list", "List the files in the package.", short="l", kind=bool, default=False),
               Flag("force", "Rebuild even if unchanged.", short="f", kind=bool, default=False)),
        examples=("dynalab-cli package -n my-model --list",),
        more="The same files always give the same bytes; an unchanged project reuses the last archive.",
    ),
    Step(
        "integrated_test", "Integrated test", "Serve the packaged model in an isolated environment and test it over HTTP.",
        action="dynalab.steps.actions.integrated_test:run", prepare="dynalab.steps.actions.integrated_test:backend",
        skipped="dynalab.steps.actions.integrated_test:skipped",
        command="test", aliases=("integrated-test",),
        needs=(Need("local_test"), Need("package")),
        covers=("dynalab", "archive", "backend", "settings", "torch", "recipe", "base_image", "wheelhouse"),
        recorded=("archive_sha256", "backend", "isolated"), identity=("backend",),
        flags=(FORCE, BACKEND),
        examples=("dynalab-cli test -n my-model", "dynalab-cli test -n my-model --backend docker"),
        uses=("settings",),
    ),
    Step(
        "login", "Login", "Check your API token with the evaluation server and save it (~/.dynalab/secrets.json, mode 0600).",
        action="dynalab.steps.actions.login:login", model=False,
        flags=(
            Flag("token", "The API token (for CI; prefer --token-stdin or $DYNALAB_API_TOKEN: flags show in `ps`).",
                 short="t", value="TOKEN"),
            Flag("token_stdin", "Read the API token from standard input.", kind=bool, default=False),
            Flag("api_url", "Evaluation server (default: $DYNALAB_API_URL, your settings', the last login's, "
                 "else http://127.0.0.1:8000).", value="URL"),
            Flag("no_browser", "Do not open the token page in a browser.", kind=bool, default=False),
        ),
        examples=("dynalab-cli login", "echo \"$TOKEN\" | dynalab-cli login --token-stdin --api-url https://your-server/api"),
    ),
    Step(
        "upload", "Upload", "Send the tested package to the evaluation server (runs the tests first if needed).",
        action="dynalab.steps.actions.upload:run", prepare="dynalab.steps.actions.upload:waiting_destination",
        needs=(Need("integrated_test", passes=("backend",)),),
        flags=(
            Flag("force", "Upload even if this exact package was uploaded before (uses quota).", short="f",
                 kind=bool, default=False),
            Flag("backend", "Integrated test backend, if it has to run: sandbox or docker.", short="b",
                 value="BACKEND"),
            API_URL,
            Flag("no_progress", "No progress bar (there is none without a terminal anyway).", kind=bool,
                 default=False),
            Flag("allow_unisolated", "Upload even if the integrated test passed without network isolation.",
                 kind=bool, default=False),
            WAIT, TIMEOUT,
        ),
        examples=("dynalab-cli upload -n my-model", "dynalab-cli upload -n my-model --wait --timeout 1800",
                  "dynalab-cli test --local -n my-model --json upload -n my-model --json"),
        more="It sends the token of your `login` (or $DYNALAB_API_TOKEN), only to the server that accepted it. "
             "With --wait it then follows the model as `status --wait` does.",
        uses=("settings",),
    ),
    Step(
        "status", "Status", "Show what the evaluation server says of the model's latest upload: its state, each "
        "dataset's progress and scores, why it failed.",
        action="dynalab.steps.actions.status:run", prepare="dynalab.steps.actions.upload:waiting_destination",
        flags=(WAIT, TIMEOUT, Flag("log", "Print the log of the model's jobs on the server too.", kind=bool,
                                   default=False), API_URL),
        examples=("dynalab-cli status -n my-model", "dynalab-cli status -n my-model --wait --timeout 1800 --json",
                  "dynalab-cli status -n my-model --log"),
        more="The upload is the latest one `upload` recorded for the server in effect. States: uploaded, queued, "
             "deploying, evaluating, evaluated, or failed with a class (build, load, crash, timeout, memory, "
             "bad_response, infrastructure), a reason and a hint. With --json, `status` is the model's state.",
        uses=("settings",),
    ),
    Step(
        "publish", "Publish", "Put the latest upload of the model on its task's leaderboard (once it is evaluated).",
        action="dynalab.steps.actions.publish:publish", prepare="dynalab.steps.actions.upload:destination",
        flags=(API_URL,),
        examples=("dynalab-cli publish -n my-model",),
        more="Its page becomes public. The server refuses a model that is not evaluated yet, and says why "
             "(exit 11). Editing the model card on its page never unpublishes it.",
    ),
    Step(
        "unpublish", "Unpublish", "Take the latest upload of the model off its task's leaderboard.",
        action="dynalab.steps.actions.publish:unpublish", prepare="dynalab.steps.actions.upload:destination",
        flags=(API_URL,),
        examples=("dynalab-cli unpublish -n my-model",),
        more="Its page becomes private again (yours only).",
    ),
    Step("logout", "Logout", "Forget the saved API token.", action="dynalab.steps.actions.login:logout", model=False,
         examples=("dynalab-cli logout",)),
    Step(
        "doctor", "Doctor", "Show the settings in effect and where each comes from, and whether Docker, "
        "bubblewrap (bwrap) and a torch wheel are usable.",
        action="dynalab.steps.actions.doctor:run", model=False,
        flags=(Flag("name", "Include this model's config (default: the only model here, if there is one).",
                    short="n", value="NAME"),),
        examples=("dynalab-cli doctor", "dynalab-cli doctor -n my-model"),
    ),
)

COMMAND_HELP = {"test": "Test the model: --local in your environment, else packaged in an isolated one."}
"""The help line of a command that runs one of several steps (by a switch)."""

BY_NAME = {step.name: step for step in STEPS}


def flags_of(step):
    """Every flag of ``step``: ``--name`` (for a step about a model), its own, ``--json``."""
    return ((NAME,) if step.model else ()) + step.flags + (JSON,)
