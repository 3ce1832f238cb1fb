"""A pure-Python nli handler: a model file read by bare name, a project file through ROOTPATH."""

import json
import os

from dynalab.handler.base_handler import BaseDynaHandler
from dynalab.tasks.task_io import ROOTPATH, TaskIO


class Handler(BaseDynaHandler):
    def initialize(self, context):
        model_pt_path, _, _ = self._handler_initialize(context)
        self.taskIO = TaskIO("nli")
        with open("labels.json") as f:  # a model file, next to the handler
            self.labels = json.load(f)
        with open(model_pt_path) as f:
            self.threshold = float(f.read())
        with open(os.path.join(ROOTPATH, "assets", "stopwords.txt")) as f:
            self.stopwords = set(f.read().split())
        self.initialized = True

    def predict(self, example):
        context = set(example["context"].lower().split()) - self.stopwords
        hypothesis = set(example["hypothesis"].lower().split()) - self.stopwords
        overlap = len(context & hypothesis) / max(len(hypothesis), 1)
        label = self.labels[0] if overlap >= self.threshold else self.labels[1]
        response = {"id": example["uid"], "label": label, "prob": {name: (0.8 if name == label else 0.1) for name in self.labels}}
        self.taskIO.sign_response(response, example)
        return response


_service = Handler()


def handle(data, context):
    if not _service.initialized:
        _service.initialize(context)
    if data is None:
        return None
    return [_service.predict(_service._read_data(data))]
