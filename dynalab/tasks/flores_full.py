"""``from dynalab.tasks.flores_full import TaskIO``: task flores_full (machine translation, FLORES full track) in the original Dynalab's first API.

``TaskIO()`` takes no task code and ``sign_response`` sets ``signed``; the
module's ``data`` holds mock examples. See ``dynalab.tasks.first_api``.
"""

from dynalab.tasks.first_api import data_attribute, task_io_class

TaskIO = task_io_class("flores_full")
__getattr__ = data_attribute("flores_full")
