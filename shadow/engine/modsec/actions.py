"""SecRule action lists: parsing and validating ``id:1,phase:2,t:none,setvar:...``."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..bodyparse import PROCESSORS
from ..errors import RuleError
from ..transforms import modsec_transform_name
from .macros import Macro
from .model import PHASE_NAMES, SEVERITY_LEVELS, Ctl, SetVar
from .parser import split_actions
from .variables import runtime_exclusion

# Actions that only affect logging, persistence or metadata: accepted and ignored.
IGNORED_ACTIONS = frozenset({
    "logdata", "ver", "rev", "maturity", "accuracy", "log", "nolog", "auditlog", "noauditlog",
    "status", "initcol", "expirevar", "deprecatevar", "setuid", "setsid", "setrsc", "xmlns",
    "sanitisearg", "sanitisematched", "sanitisematchedbytes", "sanitiserequestheader",
    "sanitiseresponseheader", "sanitizearg", "sanitizematched", "sanitizematchedbytes",
    "sanitizerequestheader", "sanitizeresponseheader",
})  # fmt: skip
REFUSED_ACTIONS = {
    "exec": "it runs external scripts",
    "proxy": "it forwards the request",
    "pause": "it delays the request",
    "append": "it changes the response",
    "prepend": "it changes the response",
}
IGNORED_CTLS = frozenset({
    "auditengine", "auditlogparts", "debugloglevel", "forcerequestbodyvariable",
    "requestbodyaccess", "requestbodylimit", "responsebodyaccess",
    "responsebodylimit", "hashengine", "hashenforcement", "parsexmlintoargs",
})  # fmt: skip


def id_ranges(text: str, line: int) -> tuple[tuple[int, int], ...]:
    ranges = []
    for piece in text.replace(",", " ").split():
        low, _, high = piece.partition("-")
        try:
            ranges.append((int(low), int(high or low)))
        except ValueError:
            raise RuleError(f"line {line}: {piece!r} is not a rule id or id range", {"line": line}) from None
    if not ranges:
        raise RuleError(f"line {line}: no rule id given", {"line": line})
    return tuple(ranges)


def parse_setvar(text: str, line: int) -> SetVar | None:
    text = text.strip()
    delete = text.startswith("!")
    if delete:
        text = text[1:]
    target, has_value, value = text.partition("=")
    collection, dot, name = target.partition(".")
    collection = collection.strip().lower()
    if not dot or not name:
        raise RuleError(f"line {line}: setvar {text!r} needs collection.name", {"line": line, "action": "setvar"})
    if collection in ("ip", "session", "global", "resource", "user"):
        return None  # persistent collections have no meaning for a stored sample
    if collection != "tx":
        raise RuleError(
            f"line {line}: setvar on collection {collection!r} is not supported (only tx)",
            {"line": line, "action": "setvar"},
        )
    name_macro = Macro(name.strip(), line)
    if delete:
        return SetVar(name_macro, "delete", None)
    if not has_value:
        return SetVar(name_macro, "one", None)
    if value.startswith("+"):
        return SetVar(name_macro, "+", Macro(value[1:], line))
    if value.startswith("-"):
        return SetVar(name_macro, "-", Macro(value[1:], line))
    return SetVar(name_macro, "=", Macro(value, line))


def parse_ctl(text: str, line: int) -> Ctl | None:
    option, _, value = text.partition("=")
    option = option.strip().lower()
    value = value.strip()
    if option in IGNORED_CTLS:
        return None
    if option == "ruleremovebyid":
        return Ctl("remove_id", ids=id_ranges(value, line))
    if option == "ruleremovebytag":
        return Ctl("remove_tag", tag=value)
    if option in ("ruleremovetargetbyid", "ruleremovetargetbytag"):
        what, _, target = value.partition(";")
        parsed = runtime_exclusion(target.strip(), line)
        if option == "ruleremovetargetbyid":
            return Ctl("remove_target", ids=id_ranges(what, line), target=parsed)
        return Ctl("remove_target", tag=what.strip(), target=parsed)
    if option == "requestbodyprocessor":
        processor = value.upper()
        if processor not in PROCESSORS:
            raise RuleError(
                f"line {line}: ctl:requestBodyProcessor={value} is not one of {', '.join(PROCESSORS)}",
                {"line": line, "action": "ctl:requestBodyProcessor"},
            )
        return Ctl("body_processor", tag=processor)
    if option == "ruleengine":
        if value.lower() == "off":
            return Ctl("engine_off")
        return None
    raise RuleError(f"line {line}: unsupported ctl option {option!r}", {"line": line, "action": f"ctl:{option}"})


@dataclass
class ParsedActions:
    id: int | None = None
    phase: int | None = None
    chain: bool = False
    transforms: list[str] = field(default_factory=list)
    reset_transforms: bool = False
    tags: list[str] = field(default_factory=list)
    msg: str = ""
    severity_level: int | None = None
    disruptive: str | None = None
    skip_after: str | None = None
    skip: int = 0
    capture: bool = False
    multimatch: bool = False
    setvars: list[SetVar] = field(default_factory=list)
    ctls: list[Ctl] = field(default_factory=list)
    has_setvar: bool = False


def parse_actions(text: str, line: int) -> ParsedActions:
    parsed = ParsedActions()
    for name, arg in split_actions(text, line):
        if name == "id":
            try:
                parsed.id = int(arg or "")
            except ValueError:
                raise RuleError(f"line {line}: id:{arg} is not an integer", {"line": line}) from None
            if not 0 < parsed.id < 2**31:
                raise RuleError(f"line {line}: id:{arg} is out of range", {"line": line})
        elif name == "phase":
            value = (arg or "").lower()
            phase = PHASE_NAMES.get(value) or (int(value) if value.isdigit() else None)
            if phase not in (1, 2, 3, 4, 5):
                raise RuleError(f"line {line}: phase:{arg} is not 1-5", {"line": line})
            parsed.phase = phase
        elif name == "chain":
            parsed.chain = True
        elif name == "t":
            canonical = modsec_transform_name(arg or "")
            if (arg or "").lower() == "none":
                parsed.transforms = []
                parsed.reset_transforms = True
            elif canonical is None:
                raise RuleError(
                    f"line {line}: unsupported transformation t:{arg}",
                    {"line": line, "transformation": arg},
                )
            else:
                parsed.transforms.append(canonical)
        elif name == "tag":
            parsed.tags.append(arg or "")
        elif name == "msg":
            parsed.msg = arg or ""
        elif name == "severity":
            value = (arg or "").upper()
            level = SEVERITY_LEVELS.get(value, int(value) if value.isdigit() else None)
            if level is None or not 0 <= level <= 7:
                raise RuleError(f"line {line}: unknown severity {arg!r}", {"line": line})
            parsed.severity_level = level
        elif name in ("pass", "block", "deny", "drop", "allow", "redirect"):
            parsed.disruptive = name
        elif name == "skipafter":
            parsed.skip_after = arg or ""
        elif name == "skip":
            if not (arg or "").isdigit() or int(arg or "0") < 1:
                raise RuleError(f"line {line}: skip:{arg} needs a positive integer", {"line": line})
            parsed.skip = int(arg or "0")
        elif name == "capture":
            parsed.capture = True
        elif name == "multimatch":
            parsed.multimatch = True
        elif name == "setvar":
            parsed.has_setvar = True
            setvar = parse_setvar(arg or "", line)
            if setvar is not None:
                parsed.setvars.append(setvar)
        elif name == "ctl":
            ctl = parse_ctl(arg or "", line)
            if ctl is not None:
                parsed.ctls.append(ctl)
        elif name in IGNORED_ACTIONS:
            continue
        elif name in REFUSED_ACTIONS:
            raise RuleError(
                f"line {line}: action {name!r} is not supported ({REFUSED_ACTIONS[name]})",
                {"line": line, "action": name},
            )
        else:
            raise RuleError(f"line {line}: unsupported action {name!r}", {"line": line, "action": name})
    return parsed


def declared_id(text: str, line: int) -> int | None:
    """The id:N of an action list that failed to parse, to name the rule in the error."""
    try:
        for name, arg in split_actions(text, line):
            if name == "id" and arg and arg.isdigit():
                return int(arg)
    except RuleError:
        return None
    return None


def paranoia_of(tags: list[str] | tuple[str, ...]) -> int | None:
    for tag in tags:
        if tag.lower().startswith("paranoia-level/"):
            level = tag.split("/", 1)[1]
            if level.isdigit():
                return int(level)
    return None
