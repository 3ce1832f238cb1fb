"""An nli handler written against the original Dynalab contract, without torch."""

import json
import os
import sys

from dynalab.handler.base_handler import BaseDynaHandler
from dynalab.tasks.task_io import ROOTPATH, TaskIO

import rules  # a model file, imported by bare name

sys.path.append(ROOTPATH)
from src.helpers.scoring import overlap  # noqa: E402  (a package of the project, through ROOTPATH)


class Handler(BaseDynaHandler):
    def initialize(self, context):
        model_pt_path, model_file_dir, device = self._handler_initialize(context)
        self.taskIO = TaskIO("nli")
        with open("labels.json") as f:  # a model file, read by bare name
            self.labels = json.load(f)
        with open(model_pt_path) as f:
            self.threshold = float(f.read())
        with open(os.path.join(ROOTPATH, "src", "helpers", "stopwords.txt")) as f:
            self.stopwords = set(f.read().split())
        self.initialized = True

    def postprocess(self, score, example):
        label = rules.pick(score, self.threshold, self.labels)
        probs = {name: (0.8 if name == label else 0.1) for name in self.labels}
        response = {"id": example["uid"], "label": label, "prob": probs}
        return [self.taskIO.sign_response(response, example)]


_service = Handler()


def handle(data, context):
    if not _service.initialized:
        _service.initialize(context)
    if data is None:
        return None
    example = _service._read_data(data)
    score = overlap(example["context"], example["hypothesis"], _service.stopwords)
    return _service.postprocess(score, example)
