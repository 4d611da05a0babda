"""Reading deploy/*.yaml in tests: CloudFormation's short tags, its conditions, the policies.

The tests take the roles' permissions from the templates themselves, so a template that lacks an
action the code needs fails them. moto evaluates a policy against ``Resource: "*"`` only and no
condition, so the test copy of a policy keeps the actions and widens every resource.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ENFORCE = DEPLOY / "enforce.yaml"
MEMBER_ROLE = DEPLOY / "member-role.yaml"
NO_VALUE = {"Ref": "AWS::NoValue"}


class _Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms (``!Ref x`` -> ``{"Ref": "x"}``, ...)."""


def _short_form(loader: _Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_Loader.add_multi_constructor("!", _short_form)


def load(path: Path = ENFORCE) -> dict[str, Any]:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)


def parameter_values(template: dict[str, Any], **given: str) -> dict[str, str]:
    """Every parameter's value: ``given``, else its default."""
    values = {name: str(p.get("Default", "")) for name, p in template["Parameters"].items()}
    unknown = set(given) - set(values)
    assert not unknown, f"not parameters of the template: {unknown}"
    return {**values, **given}


class Evaluator:
    """Resolves Ref to parameters and the template's Conditions (Fn::If, Equals, Not, And, Or)."""

    def __init__(self, template: dict[str, Any], parameters: dict[str, str]) -> None:
        self.template, self.parameters = template, parameters

    def condition(self, name: str) -> bool:
        return self.truth(self.template["Conditions"][name])

    def truth(self, node: Any) -> bool:
        (function, args), *_ = node.items()
        if function == "Condition":
            return self.condition(args)
        if function == "Fn::Equals":
            return self.value(args[0]) == self.value(args[1])
        if function == "Fn::Not":
            return not self.truth(args[0])
        if function == "Fn::And":
            return all(self.truth(arg) for arg in args)
        if function == "Fn::Or":
            return any(self.truth(arg) for arg in args)
        raise ValueError(f"not a condition: {node}")

    def value(self, node: Any) -> Any:
        if isinstance(node, dict) and set(node) == {"Ref"} and node["Ref"] in self.parameters:
            return self.parameters[node["Ref"]]
        return node

    def chosen(self, node: Any) -> Any:
        """``node`` with every Fn::If decided; NoValue entries of lists dropped."""
        if isinstance(node, dict):
            if set(node) == {"Fn::If"}:
                name, yes, no = node["Fn::If"]
                return self.chosen(yes if self.condition(name) else no)
            return {k: self.chosen(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self.chosen(item) for item in node if self.chosen(item) != NO_VALUE]
        return node


def statements(path: Path, resource: str, **parameters: str) -> list[dict[str, Any]]:
    """The statements of ``resource``'s inline policies, for these parameter values."""
    template = load(path)
    evaluator = Evaluator(template, parameter_values(template, **parameters))
    role = evaluator.chosen(template["Resources"][resource])
    found: list[dict[str, Any]] = []
    for policy in role["Properties"]["Policies"]:
        found.extend(policy["PolicyDocument"]["Statement"])
    return found


def actions(path: Path, resource: str, **parameters: str) -> set[str]:
    found: set[str] = set()
    for statement in statements(path, resource, **parameters):
        listed = statement["Action"]
        found.update([listed] if isinstance(listed, str) else listed)
    return found


def policy_for_moto(path: Path, resource: str, **parameters: str) -> dict[str, Any]:
    """The role's permissions as moto can evaluate them: the same actions on ``Resource: "*"``."""
    wanted = sorted(a for a in actions(path, resource, **parameters) if not a.startswith("logs:"))
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": wanted, "Resource": "*"}],
    }
