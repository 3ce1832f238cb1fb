from pathlib import Path

from setuptools import find_packages, setup

about = {}
exec(Path("dynalab/__init__.py").read_text(), about)

setup(
    name="dynalab",
    version=about["__version__"],
    description="Take a model project from a laptop to a Dynabench-style leaderboard.",
    long_description=Path("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["dynalab", "dynalab.*"]) + ["dynalab.templates"],
    # Templates live at the top of the repository; users get them as dynalab.templates.
    package_dir={"dynalab.templates": "templates"},
    package_data={
        "dynalab.templates": ["*.template"],
        "dynalab.tasks.definitions": ["*.yaml"],
        "dynalab.server.web": ["templates/*.html", "static/*"],
    },
    install_requires=[
        "invoke>=2.2",
        "cerberus>=1.3",
        "pyyaml>=6",
        "ruamel.yaml>=0.18",  # round-trip edits of configs and settings: comments and order kept
        "requests>=2.28",
        "requests-toolbelt>=1.0",
        "tqdm>=4.60",
        "docker>=7",
    ],
    extras_require={
        "server": ["fastapi>=0.115", "uvicorn>=0.29", "sqlalchemy>=2.0", "python-multipart>=0.0.13",
                   "itsdangerous>=2.0", "pydantic-settings>=2.3", "alembic>=1.13",
                   # the metrics: macro_f1 (scikit-learn), bleu (sacrebleu)
                   "scikit-learn>=1.3", "sacrebleu>=2.3",
                   # remote workers (run --broker, dynalab-server worker): Celery on Redis; its Redis
                   # transport imports packaging without declaring it
                   "celery[redis]>=5.3", "packaging>=23",
                   "jinja2>=3.1"],  # the web pages' templates
        "postgres": ["psycopg[binary]>=3.1"],
        "test": ["pytest>=7", "aiosmtpd>=1.4",
                 "selenium>=4.20"],  # the web pages, in a real browser (Debian's chromium, see .ci/setup)
    },
    entry_points={
        "console_scripts": [
            "dynalab-cli=dynalab.cli.main:main",
            "dynalab-server=dynalab.server.cli:main",
        ]
    },
)
