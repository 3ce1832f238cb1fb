"""The task definitions built into Dynalab, one YAML file per task (package data)."""
