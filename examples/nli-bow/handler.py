"""Handler of the bag-of-words NLI example, written against the original Dynalab contract."""

import json
import sys

import torch

from dynalab.handler.base_handler import BaseDynaHandler
from dynalab.tasks.task_io import ROOTPATH, TaskIO

# labels.py and vocab.json are model files: they sit next to this handler.
from labels import LABELS

# The model's code stays in its package; ROOTPATH is where the project lives.
sys.path.append(ROOTPATH)
from src.nli_bow.model import BowNLI, features  # noqa: E402


class Handler(BaseDynaHandler):
    def initialize(self, context):
        model_pt_path, model_file_dir, device = self._handler_initialize(context)
        self.taskIO = TaskIO("nli")
        with open("vocab.json") as f:
            self.vocab = json.load(f)
        self.model = BowNLI(len(self.vocab), num_labels=len(LABELS))
        self.model.load_state_dict(torch.load(model_pt_path, map_location="cpu"))
        self.model.to(device).eval()
        self.initialized = True

    def preprocess(self, data):
        example = self._read_data(data)
        return features(self.vocab, example["context"], example["hypothesis"])

    def inference(self, input_data):
        with torch.no_grad():
            return torch.softmax(self.model(*input_data), dim=-1).tolist()

    def postprocess(self, inference_output, data):
        example = self._read_data(data)
        probs = dict(zip(LABELS, inference_output))
        response = {
            "id": example["uid"],
            "label": max(probs, key=probs.get),
            "prob": probs,
        }
        return [self.taskIO.sign_response(response, example)]


_service = Handler()


def handle(data, context):
    if not _service.initialized:
        _service.initialize(context)
    if data is None:
        return None
    input_data = _service.preprocess(data)
    output = _service.inference(input_data)
    return _service.postprocess(output, data)
