"""The context handed to handle(), and the BaseDynaHandler helpers handlers call."""

import sys

from dynalab.handler import base_handler
from dynalab.handler.base_handler import ROOTPATH, BaseDynaHandler
from dynalab.runtime.context import Context, context_from_spec
from dynalab.tasks import task_io


def _context(gpu=None, serialized_file="model.pt"):
    return context_from_spec({
        "model_name": "m1", "model_dir": "/models/m1", "handler": "handler.py",
        "serialized_file": serialized_file, "gpu_id": gpu, "batch_size": 1,
    })


def test_context_looks_like_torchserves():
    context = _context()
    assert context.model_name == "m1"
    assert context.manifest["model"]["serializedFile"] == "model.pt"
    assert context.manifest["model"]["modelName"] == "m1"
    assert context.manifest["model"]["handler"] == "handler.py"
    properties = context.system_properties
    assert properties["model_dir"] == "/models/m1"
    assert properties["gpu_id"] is None and properties["batch_size"] == 1
    assert properties["server_name"] == "MMS" and properties["limit_max_image_pixels"] is True
    assert "server_version" in properties
    # Handlers report metrics; these calls must simply work.
    context.metrics.add_time("InferenceTime", 12.5, None, "ms")
    context.metrics.add_counter("Requests", 1)


def test_context_keeps_the_torchserve_constructor():
    context = Context("m", "/d", {"model": {"serializedFile": "x.pt"}}, 4, 0, "0.12.0")
    assert context.system_properties["batch_size"] == 4 and context.system_properties["gpu_id"] == 0


def test_request_headers_and_response_status_are_per_request():
    context = _context()
    processor = context.start_request({"X-Label": "neutral"})
    assert context.get_request_header(0, "x-label") == "neutral"
    assert context.get_all_request_header(0) == {"X-Label": "neutral"}
    context.set_response_status(422, "no")
    context.set_response_header(0, "X-Model", "m1")
    context.set_response_content_type(0, "text/csv")
    assert processor.get_response_status_code() == 422
    assert context.get_response_status(0) == (422, "no")
    assert context.get_response_headers(0) == {"X-Model": "m1", "content-type": "text/csv"}

    context.start_request({})
    assert context.get_request_header(0, "X-Label") is None
    assert context.get_response_status(0) == (200, None)


def test_header_helpers_work_outside_a_request():
    context = _context()
    context.set_response_status(500)  # during handle(None, context): ignored, not a crash
    assert context.get_request_header(0, "anything") is None


def test_handler_initialize_gives_checkpoint_path_model_dir_and_device():
    handler = BaseDynaHandler()
    assert handler.initialized is False
    assert handler._handler_initialize(_context()) == ("/models/m1/model.pt", "/models/m1", "cpu")
    assert handler._handler_initialize(_context(serialized_file=None))[0] is None
    assert handler._read_data([{"body": {"uid": "1"}}]) == {"uid": "1"}


def test_a_gpu_id_gives_cuda_only_when_torch_has_cuda(monkeypatch):
    class FakeCuda:
        available = True

        @classmethod
        def is_available(cls):
            return cls.available

    class FakeTorch:
        cuda = FakeCuda

    monkeypatch.setitem(sys.modules, "torch", FakeTorch)
    handler = BaseDynaHandler()
    assert handler._handler_initialize(_context(gpu=1))[2] == "cuda:1"
    assert handler._handler_initialize(_context(gpu=None))[2] == "cpu"
    FakeCuda.available = False
    assert handler._handler_initialize(_context(gpu=1))[2] == "cpu"
    monkeypatch.setitem(sys.modules, "torch", None)  # torch not installed
    assert handler._handler_initialize(_context(gpu=0))[2] == "cpu"


def test_rootpath_and_task_io_are_reexported():
    assert ROOTPATH == task_io.ROOTPATH
    assert base_handler.TaskIO is task_io.TaskIO
    handler = BaseDynaHandler()
    assert handler.initialize_task_io("nli").task_code == "nli"
    assert handler.task_io.task_code == "nli"
