"""Shadow's domain errors: each a stable code and an HTTP status (CONTRACT §1, §4)."""

from __future__ import annotations

from shieldx.errors import ApplicationError, Conflict, InvalidRequest, NotFound


class DatasetNotFound(NotFound):
    default_message = "Dataset not found."


class RuleNotFound(NotFound):
    default_message = "Rule not found."


class RuleVersionNotFound(NotFound):
    default_message = "Rule version not found."


class EvaluationNotFound(NotFound):
    default_message = "Evaluation not found."


class DatasetNameTaken(Conflict):
    default_message = "A dataset with this name already exists."


class InvalidSamples(InvalidRequest):
    default_message = "Some samples are invalid; nothing was imported."


class InvalidRule(InvalidRequest):
    """The engine refused a rule_config (its RuleError, naming the problem)."""

    default_message = "The rule is invalid."


class EmptySelection(InvalidRequest):
    default_message = "No samples match the selection."


class EvaluationNotCompleted(Conflict):
    default_message = "The evaluation has not completed."


class NothingToRollBack(Conflict):
    default_message = "There is no previously deployed version to roll back to."


class GateFailed(ApplicationError):
    code = "gate_failed"
    http_status = 409
    default_message = "The deploy gate is not met."


class EvaluationFinished(Conflict):
    default_message = "The evaluation has already finished."
