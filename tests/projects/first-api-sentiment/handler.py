"""A sentiment handler written for the original Dynalab's first API: per-label scores, not normalised."""

import json

from dynalab.handler.base_handler import BaseDynaHandler
from dynalab.tasks.sentiment import TaskIO


class Handler(BaseDynaHandler):
    def initialize(self, context):
        self.taskIO = TaskIO()
        model_pt_path, model_file_dir, device_str = self._handler_initialize(context)
        with open(model_pt_path) as f:
            self.cues = json.load(f)
        self.initialized = True

    def preprocess(self, data):
        example = self._read_data(data)
        return example["statement"].lower().split()

    def inference(self, words):
        hits = {label: sum(word in cues for word in words) for label, cues in self.cues.items()}
        # One score per label, not summing to 1: that API normalised them on the server.
        return {label: min(1.0, 0.2 + 0.4 * count) for label, count in hits.items()}

    def postprocess(self, scores, data):
        response = dict()
        example = self._read_data(data)
        response["id"] = example["uid"]
        response["label"] = max(scores, key=scores.get)
        response["prob"] = scores
        response = self.taskIO.sign_response(response, example)
        return [response]


_service = Handler()


def handle(data, context):
    if not _service.initialized:
        _service.initialize(context)
    if data is None:
        return None
    input_data = _service.preprocess(data)
    output = _service.inference(input_data)
    response = _service.postprocess(output, data)
    return response
