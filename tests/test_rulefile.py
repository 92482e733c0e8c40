"""Rule files: schema errors located by file, line and column; conflicts name both files."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kodeord.actions import ActionSpec, Param
from kodeord.catalog import Catalog
from kodeord.errors import RuleFileError
from kodeord.rulefile import load

ACTIONS = {
    "core.reply": ActionSpec("core.reply", "reply"),
    "test.vote": ActionSpec("test.vote", "vote", params=(Param("poll", str, required=True), Param("max", int, default=5))),
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(*paths: Path) -> list[str]:
    with pytest.raises(RuleFileError) as info:
        Catalog(paths, lambda: ACTIONS, "Europe/Stockholm", ("SE", "NO"))
    return [str(p) for p in info.value.problems]


def test_valid_file_loads(tmp_path: Path) -> None:
    path = write(tmp_path, "ok.yaml", """\
        tenant: {id: t1}
        numbers:
          - number: "72500"
        services:
          - id: s1
            number: "72500"
            keyword: RÖSTA
            rules:
              - name: vote
                when: {args: '\\d{2}', role: [member, stranger], channel: sms}
                do: test.vote
                with: {poll: final}
                reply: "Tack!"
        """)
    config = load([path], ACTIONS)
    service = config.services["t1/s1"]
    assert service.rules[0].params == {"poll": "final", "max": 5}
    assert config.numbers["72500"].type == "shared"


def test_yaml_syntax_error_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", "tenant: {id: t1}\nservices:\n  - id: [unclosed\n")
    found = problems(path)
    assert len(found) == 1
    assert found[0].startswith(f"{path}:4:1: YAML syntax error")


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    path = write(tmp_path, "typo.yaml", """\
        tenant: {id: t1}
        numbers: [{number: "72500"}]
        services:
          - id: s1
            number: "72500"
            keywrd: MELLO
        """)
    assert problems(path) == [f"{path}:6:5: unknown key 'keywrd' (did you mean 'keyword'?) (at services[0])"]


def test_wrong_type_names_key_path(tmp_path: Path) -> None:
    path = write(tmp_path, "type.yaml", """\
        tenant: {id: t1}
        numbers: [{number: "72500"}]
        services:
          - id: s1
            number: "72500"
            keyword: MELLO
            rules:
              - name: r1
                when: {role: admin}
                reply: hi
        """)
    assert problems(path) == [
        f"{path}:9:22: expected one of member, writer, functionary, stranger, got the text 'admin' "
        "(at services[0].rules[0].when.role[0])"
    ]


def test_unknown_action_and_bad_params(tmp_path: Path) -> None:
    path = write(tmp_path, "act.yaml", """\
        tenant: {id: t1}
        numbers: [{number: "72500"}]
        services:
          - id: s1
            number: "72500"
            keyword: MELLO
            rules:
              - name: r1
                do: test.vot
              - name: r2
                do: test.vote
                with: {max: many, colour: red}
        """)
    assert problems(path) == [
        f"{path}:9:9: unknown action 'test.vot' (did you mean 'test.vote'?) (at services[0].rules[0].do)",
        f"{path}:12:9: action 'test.vote' has no parameter 'colour' (at services[0].rules[1].with)",
        f"{path}:12:9: action 'test.vote' needs parameter 'poll' (at services[0].rules[1].with)",
        f"{path}:12:9: parameter 'max' must be a whole number (at services[0].rules[1].with)",
    ]


def test_bad_regex_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", """\
        tenant: {id: t1}
        numbers: [{number: "72500"}]
        services:
          - id: s1
            number: "72500"
            keyword: MELLO
            rules:
              - name: r1
                when: {args: '(unclosed'}
                reply: "Hej"
        """)
    assert problems(path) == [
        f"{path}:9:22: bad pattern '(unclosed': missing ), unterminated subpattern at position 0 "
        "(at services[0].rules[0].when.args)"
    ]


def test_bad_phone_number_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", """\
        tenant: {id: t1}
        numbers: [{number: "+46 70 12"}]
        """)
    assert problems(path) == [f"{path}:2:12: invalid phone number '+46 70 12': not a valid number for its country (at numbers[0].number)"]


def test_template_syntax_error_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, "tpl.yaml", """\
        tenant: {id: t1}
        numbers: [{number: "72500"}]
        services:
          - id: s1
            number: "72500"
            keyword: MELLO
            rules:
              - name: r1
                reply: "Hej {{ oops"
        """)
    [found] = problems(path)
    assert found.startswith(f"{path}:9:9: template syntax error on line 1:")
    assert found.endswith("(at services[0].rules[0].reply)")


def test_keyword_conflict_names_both_files(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", """\
        tenant: {id: ta}
        numbers: [{number: "72500"}]
        services:
          - {id: one, number: "72500", keyword: RÖSTA, rules: [{name: r, reply: a}]}
        """)
    b = write(tmp_path, "b.yaml", """\
        tenant: {id: tb}
        numbers: [{number: "72500"}]
        services:
          - {id: two, number: "72500", keyword: rosta, rules: [{name: r, reply: b}]}
        """)
    [found] = problems(a, b)
    assert found == (
        f"{b}:4:5: keyword 'rosta' on number 72500 is claimed by both ta/one ({a}:4) and tb/two ({b}:4)"
    )


def test_dedicated_number_belongs_to_one_tenant(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", 'tenant: {id: ta}\nnumbers: [{number: "+46766861004"}]\n')
    b = write(tmp_path, "b.yaml", 'tenant: {id: tb}\nnumbers: [{number: "0766861004"}]\n')
    assert problems(a, b) == [
        f"{b}:2:12: number +46766861004 is already declared by tenant 'ta' in {a} (at numbers[0].number)"
    ]


def test_too_many_rules_is_refused(tmp_path: Path) -> None:
    rules = "\n".join(f"      - {{name: r{i}, reply: x}}" for i in range(101))
    path = write(tmp_path, "big.yaml", f"""\
tenant: {{id: t1}}
numbers: [{{number: "72500"}}]
services:
  - id: s1
    number: "72500"
    keyword: MELLO
    rules:
{rules}
""")
    assert problems(path) == [
        f"{path}:7:5: service 's1' has 101 rules; at most 100 are allowed in one service "
        "(split it into several services) (at services[0].rules)"
    ]


def test_reserved_word_cannot_be_a_keyword(tmp_path: Path) -> None:
    path = write(tmp_path, "r.yaml", """\
        tenant: {id: t1}
        numbers: [{number: "72500"}]
        services:
          - {id: s1, number: "72500", keyword: Stopp, rules: [{name: r, reply: x}]}
        """)
    assert problems(path) == [f"{path}:4:5: keyword 'Stopp' is a reserved word on number 72500"]


def test_every_problem_in_a_file_is_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "many.yaml", """\
        tenant: {id: t1, colour: red}
        numbers: [{number: "72500", type: fancy}]
        """)
    found = problems(path)
    assert len(found) == 2
    assert found[0].startswith(f"{path}:1:18: unknown key 'colour'")
    assert found[1].startswith(f"{path}:2:35: expected one of shared, dedicated, voice, email")


def test_shipped_demo_rules_are_valid() -> None:
    from kodeord.manager import Hooks, make_manager
    from kodeord.platform import demo_rules

    config = load(demo_rules(), Hooks(make_manager()).actions())
    assert "demo-tv/mello" in config.services
    assert "demo-forening/adressbok" in config.services


def test_reply_with_a_misspelt_variable_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "var.yaml", """\
        tenant: {id: t1}
        numbers: [{number: "72500"}]
        services:
          - id: s1
            number: "72500"
            keyword: MELLO
            rules:
              - name: r1
                reply: "Tack för {{ agrs }}"
        """)
    [found] = problems(path)
    assert found.startswith(f"{path}:9:9: template uses unknown variable 'agrs'; known are: args, channel,")
