"""A step of the tests' own, declared as Dynalab's are: what a new step (status, publish...) amounts to."""

from dynalab.steps.results import Outcome
from dynalab.steps.step import Flag, Need, Step


def greet(run):
    """The action: say hello to the model, by the name the runner resolved."""
    run.out(f"hello, {run.model.name} ({run.flags.greeting})")
    return Outcome(details={"greeting": run.flags.greeting})


GREET = Step("greet", "Greet", "Say hello once the local test passed.", action="steps_support:greet",
             needs=(Need("local_test"),),
             flags=(Flag("greeting", "What to say.", short="g", value="WORDS", default="hi"),
                    Flag("wait", "Seconds to wait first (a number, as `status --timeout S` will take).", kind=float,
                         default=0.0, value="S")),
             examples=("dynalab-cli greet -n my-model -g hello",))
