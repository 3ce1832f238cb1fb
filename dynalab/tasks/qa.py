"""``from dynalab.tasks.qa import TaskIO``: task qa (question answering) in the original Dynalab's first API.

``TaskIO()`` takes no task code and ``sign_response`` sets ``signed``; the
module's ``data`` holds mock examples. See ``dynalab.tasks.first_api``.
"""

from dynalab.tasks.first_api import data_attribute, task_io_class

TaskIO = task_io_class("qa")
__getattr__ = data_attribute("qa")
