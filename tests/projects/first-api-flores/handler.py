"""A translation handler written for the original Dynalab's first API (task flores_small1)."""

import json
import os
import sys

from dynalab.handler.base_handler import BaseDynaHandler, ROOTPATH
from dynalab.tasks.flores_small1 import TaskIO

import translate  # a model file, imported by bare name

sys.path.append(ROOTPATH)  # the project's own packages
from src.words import split_words  # noqa: E402


class Handler(BaseDynaHandler):
    def initialize(self, context):
        model_pt_path, model_file_dir, device_str = self._handler_initialize(context)
        self.taskIO = TaskIO()
        with open(model_pt_path) as f:
            self.lexicon = json.load(f)
        with open(os.path.join(model_file_dir, "languages.json")) as f:
            self.languages = json.load(f)
        self.initialized = True

    def preprocess(self, data):
        example = self._read_data(data)
        # The model knows its languages by its own tags: an unknown code is a KeyError.
        source = self.languages[example["sourceLanguage"]]
        target = self.languages[example["targetLanguage"]]
        return source, target, split_words(example["sourceText"])

    def inference(self, input_data):
        source, target, words = input_data
        return translate.translate(words, source, target, self.lexicon)

    def postprocess(self, inference_output, data):
        response = dict()
        example = self._read_data(data)
        response["id"] = example["uid"]
        response["translatedText"] = inference_output
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
