"""A handler for a custom task whose definition only the original tool's `init` wrote (.dynalab/toxicity.json)."""

from dynalab.handler.base_handler import BaseDynaHandler
from dynalab.tasks.task_io import TaskIO


class Handler(BaseDynaHandler):
    def initialize(self, context):
        self.taskIO = TaskIO("toxicity")
        model_pt_path, _, _ = self._handler_initialize(context)
        with open(model_pt_path) as f:
            self.rude_words = set(f.read().split())
        self.initialized = True


_service = Handler()


def handle(data, context):
    if not _service.initialized:
        _service.initialize(context)
    if data is None:
        return None
    example = _service._read_data(data)
    rude = any(word in _service.rude_words for word in example["text"].lower().split())
    response = {"id": example["uid"], "label": "toxic" if rude else "fine"}
    return [_service.taskIO.sign_response(response, example)]
