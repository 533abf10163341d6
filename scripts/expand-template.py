#!/usr/bin/env python3
"""Print the Resources of a CloudFormation/SAM template as CloudFormation deploys them, as canonical
JSON (sorted keys, indent 1): Fn::ForEach loops expanded the way the AWS::LanguageExtensions
transform expands them, Fn::FindInMap with literal keys looked up, short tags (!Ref, !Sub, ...) in
their long form.

Usage: scripts/expand-template.py [TEMPLATE]     (default: infra/template.yaml; "-" reads stdin)

tests/fixtures/template-resources.json is this output for infra/template.yaml: the test
the_template_deploys_the_same_resources_as_before (tests/tests/template_matches_routes.rs) expands
the template in Rust the same way and compares. A change to what is deployed changes the fixture:
regenerate it on purpose, and review its diff.

The expansion covers what the template uses and is checked to be unambiguous:
- Fn::ForEach::<Loop>: [Identifier, [literal, ...], {OutputKey: OutputValue, ...}], in Resources,
  Conditions and Outputs (at any depth, so also nested loops and loops in resource properties);
- in the copies, ${Identifier} and &{Identifier} (non-alphanumerics dropped) in keys and in Fn::Sub
  strings, {"Ref": Identifier}, and Ref or Fn::GetAtt of an Fn::Sub that then has no variables left;
  an ${Identifier} anywhere else is an error (cfn-lint and the SAM CLI would expand it differently);
- then Fn::FindInMap of three literal strings becomes the mapping's value, and an Fn::Sub variable
  whose value is a literal string is written into the Fn::Sub string (what Fn::Sub does with it).
Needs PyYAML (the venv of scripts/lint-template.sh or scripts/sam-build.sh has it).
"""

import copy
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
FOREACH = re.compile(r"^Fn::ForEach::[A-Za-z0-9]+$")
# The CloudFormation short forms. !Ref and !Condition keep their name; the others are Fn::<Name>.
SHORT_TAGS = [
    "Ref", "Condition", "GetAtt", "Sub", "If", "Not", "Equals", "And", "Or", "Join", "Select",
    "Split", "FindInMap", "Base64", "Cidr", "GetAZs", "ImportValue", "Transform", "ToJsonString",
    "Length",
]


class TemplateError(Exception):
    pass


class Loader(yaml.SafeLoader):
    """YAML 1.2 core scalars (as serde_yaml reads them: `on`, `no` and dates stay strings), the
    CloudFormation short tags as one-key mappings, duplicate keys refused (CloudFormation refuses
    them too)."""


Loader.yaml_implicit_resolvers = {}
for tag, pattern, first in [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?(?:0|[1-9][0-9]*)|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+.0123456789",
    ),
]:
    Loader.add_implicit_resolver(tag, re.compile(pattern), list(first))


def _int(loader, node):
    text = loader.construct_scalar(node)
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text)


Loader.add_constructor("tag:yaml.org,2002:int", _int)


def _mapping(loader, node, deep=False):
    loader.flatten_mapping(node)
    out = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in out:
            raise TemplateError(f"duplicate key {key!r} (line {key_node.start_mark.line + 1})")
        out[key] = loader.construct_object(value_node, deep=deep)
    return out


Loader.add_constructor("tag:yaml.org,2002:map", lambda loader, node: _mapping(loader, node, deep=True))


def _short_tag(name):
    key = name if name in ("Ref", "Condition") else f"Fn::{name}"

    def construct(loader, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = _mapping(loader, node, deep=True)
        return {key: value}

    return construct


for _name in SHORT_TAGS:
    Loader.add_constructor(f"!{_name}", _short_tag(_name))


def load(text):
    return yaml.load(text, Loader=Loader)  # noqa: S506 (a SafeLoader subclass)


# ---------------------------------------------------------------------------------------------
# Fn::ForEach
# ---------------------------------------------------------------------------------------------


def _replace(text, identifier, value):
    return text.replace("${" + identifier + "}", value).replace("&{" + identifier + "}", re.sub(r"[^A-Za-z0-9]", "", value))


def _mentions(text, identifier):
    return "${" + identifier + "}" in text or "&{" + identifier + "}" in text


def _resolved_sub(value, identifier, item):
    """An Fn::Sub inside Ref or Fn::GetAtt: the name it makes, if no variable is left."""
    if isinstance(value, dict) and list(value) == ["Fn::Sub"] and isinstance(value["Fn::Sub"], str):
        text = _replace(value["Fn::Sub"], identifier, item)
        return text if "${" not in text else {"Fn::Sub": text}
    return substitute(value, identifier, item)


def substitute(node, identifier, item):
    """One copy of a loop body, for Identifier = item."""
    if isinstance(node, str):
        if _mentions(node, identifier):
            raise TemplateError(
                f"{node!r}: ${{{identifier}}} outside a key or an Fn::Sub string (expanded differently by "
                f"cfn-lint and the SAM CLI); use !Sub, or !Ref {identifier}"
            )
        return node
    if isinstance(node, list):
        return [substitute(x, identifier, item) for x in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        (key, value), = node.items()
        if key == "Ref":
            if value == identifier:
                return item
            return {"Ref": _resolved_sub(value, identifier, item)}
        if key == "Fn::Sub":
            if isinstance(value, str):
                return {"Fn::Sub": _replace(value, identifier, item)}
            if isinstance(value, list) and value and isinstance(value[0], str):
                return {"Fn::Sub": [_replace(value[0], identifier, item)] + [substitute(x, identifier, item) for x in value[1:]]}
        if key == "Fn::GetAtt" and isinstance(value, list):
            return {"Fn::GetAtt": [_resolved_sub(x, identifier, item) for x in value]}
    out = {}
    for key, value in node.items():
        new_key = _replace(key, identifier, item) if isinstance(key, str) else key
        if new_key in out:
            raise TemplateError(f"Fn::ForEach: {new_key} twice")
        out[new_key] = substitute(value, identifier, item)
    return out


def expand(node):
    """Every Fn::ForEach::<Loop> key in node (and below it) replaced by its copies."""
    if isinstance(node, list):
        return [expand(x) for x in node]
    if not isinstance(node, dict):
        return node
    explicit = {k for k in node if not (isinstance(k, str) and k.startswith("Fn::ForEach::"))}
    out = {}
    for key, value in node.items():
        if key in explicit:
            if key in out:
                raise TemplateError(f"{key} is defined twice (once by Fn::ForEach)")
            out[key] = expand(value)
            continue
        if not FOREACH.match(key):
            raise TemplateError(f"{key}: the loop name must be alphanumeric")
        if not (isinstance(value, list) and len(value) == 3 and isinstance(value[0], str) and isinstance(value[2], dict)):
            raise TemplateError(f"{key}: expected [Identifier, [values], {{OutputKey: OutputValue}}]")
        identifier, collection, body = value
        if not (isinstance(collection, list) and all(isinstance(x, str) for x in collection)):
            raise TemplateError(f"{key}: the collection must be a list of literal strings")
        for item in collection:
            for new_key, new_value in expand(substitute(body, identifier, item)).items():
                if _has_identifier_placeholder(new_key):
                    raise TemplateError(f"{key}: {new_key} still has a placeholder")
                if new_key in out or new_key in explicit:
                    raise TemplateError(f"{new_key} is defined twice ({key})")
                out[new_key] = new_value
    return out


def _has_identifier_placeholder(key):
    return isinstance(key, str) and ("${" in key or "&{" in key)


# ---------------------------------------------------------------------------------------------
# Fn::FindInMap, Fn::Sub with literal variables, Fn::GetAtt "A.B"
# ---------------------------------------------------------------------------------------------


def resolve(node, mappings):
    """Post-order: Fn::FindInMap of literal keys -> the value; Fn::Sub variables that are literal
    strings -> written into the string."""
    if isinstance(node, list):
        return [resolve(x, mappings) for x in node]
    if not isinstance(node, dict):
        return node
    node = {k: resolve(v, mappings) for k, v in node.items()}
    if len(node) != 1:
        return node
    (key, value), = node.items()
    if key == "Fn::FindInMap" and isinstance(value, list) and len(value) == 3 and all(isinstance(x, str) for x in value):
        name, top, second = value
        try:
            return copy.deepcopy(mappings[name][top][second])
        except (KeyError, TypeError):
            raise TemplateError(f"Fn::FindInMap {value}: no such entry in Mappings") from None
    if key == "Fn::Sub" and isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], dict):
        text, variables = value[0], dict(value[1])
        for name, literal in list(variables.items()):
            if isinstance(literal, str):
                text = text.replace("${" + name + "}", literal)
                del variables[name]
        return {"Fn::Sub": [text, variables] if variables else text}
    return node


def canonical(node):
    """Fn::GetAtt "A.B" as ["A", "B"] (what CloudFormation reads it as)."""
    if isinstance(node, list):
        return [canonical(x) for x in node]
    if not isinstance(node, dict):
        return node
    if list(node) == ["Fn::GetAtt"] and isinstance(node["Fn::GetAtt"], str):
        return {"Fn::GetAtt": node["Fn::GetAtt"].split(".", 1)}
    return {k: canonical(v) for k, v in node.items()}


def expanded_template(template):
    """The template with Resources, Conditions and Outputs expanded and resolved."""
    out = dict(template)
    mappings = template.get("Mappings") or {}
    for section in ("Resources", "Conditions", "Outputs"):
        if section in out:
            out[section] = resolve(expand(out[section]), mappings)
    return out


def main(argv):
    if len(argv) > 2 or (len(argv) == 2 and argv[1] in ("-h", "--help")):
        print(__doc__.strip())
        return 0 if len(argv) == 2 else 2
    path = argv[1] if len(argv) == 2 else str(ROOT / "infra" / "template.yaml")
    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    try:
        resources = canonical(expanded_template(load(text))["Resources"])
    except TemplateError as e:
        print(f"expand-template: {path}: {e}", file=sys.stderr)
        return 1
    print(json.dumps(resources, sort_keys=True, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
