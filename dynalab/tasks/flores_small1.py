"""``from dynalab.tasks.flores_small1 import TaskIO``: task flores_small1 (machine translation, FLORES small track 1) in the original Dynalab's first API.

``TaskIO()`` takes no task code and ``sign_response`` sets ``signed``; the
module's ``data`` holds mock examples. See ``dynalab.tasks.first_api``.
"""

from dynalab.tasks.first_api import data_attribute, task_io_class

TaskIO = task_io_class("flores_small1")
__getattr__ = data_attribute("flores_small1")
