"""Rule files: schema errors located by file, line and column; conflicts name both files."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from ruamel.yaml import tokens

from kodeord.config.catalog import Catalog
from kodeord.config.rulefile import load
from kodeord.config.schema import Anything, Checker, Loc
from kodeord.config.yamlfile import MAX_FILE_BYTES, parse_yaml
from kodeord.decide.actions import ActionSpec, Param
from kodeord.support.errors import Problem, RuleFileError

from ..hostile import any_bytes

ACTIONS = {
    "core.reply": ActionSpec("core.reply", "reply"),
    "test.vote": ActionSpec(
        "test.vote", "vote", params=(Param("poll", str, required=True), Param("max", int, default=5))
    ),
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


SERVICE = """\
tenant: {id: t1}
numbers: [{number: "72500"}]
services:
  - id: s1
    number: "72500"
    keyword: MELLO
"""


def problems(*paths: Path) -> list[str]:
    with pytest.raises(RuleFileError) as info:
        Catalog(paths, lambda: ACTIONS, "Europe/Stockholm", ("SE", "NO"))
    return [str(p) for p in info.value.problems]


def test_valid_file_loads(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "ok.yaml",
        """\
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
        """,
    )
    config = load([path], ACTIONS)
    service = config.services["t1/s1"]
    assert service.rules[0].params == {"poll": "final", "max": 5}
    assert config.numbers["72500"].type == "shared"


def test_yaml_syntax_error_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", "tenant: {id: t1}\nservices:\n  - id: [unclosed\n")
    found = problems(path)
    assert len(found) == 1
    assert (
        found[0]
        == f"{path}:3:9: YAML syntax error: a list in [ ] is not closed, or its items are not separated by commas"
    )


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "typo.yaml",
        """\
        tenant: {id: t1}
        numbers: [{number: "72500"}]
        services:
          - id: s1
            number: "72500"
            keywrd: MELLO
        """,
    )
    assert problems(path) == [f"{path}:6:5: unknown key 'keywrd' (did you mean 'keyword'?) (at services[0])"]


def test_wrong_type_names_key_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "type.yaml",
        """\
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
        """,
    )
    assert problems(path) == [
        f"{path}:9:22: expected one of member, writer, functionary, stranger, got the text 'admin' "
        "(at services[0].rules[0].when.role[0])"
    ]


def test_unknown_action_and_bad_params(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "act.yaml",
        """\
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
        """,
    )
    assert problems(path) == [
        f"{path}:9:9: unknown action 'test.vot' (did you mean 'test.vote'?); actions there are: core.reply, "
        "test.vote (at services[0].rules[0].do)",
        f"{path}:12:9: action 'test.vote' has no parameter 'colour' (at services[0].rules[1].with)",
        f"{path}:12:9: action 'test.vote' needs parameter 'poll' (at services[0].rules[1].with)",
        f"{path}:12:9: parameter 'max' must be a whole number (at services[0].rules[1].with)",
    ]


def test_bad_regex_is_located(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.yaml",
        """\
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
        """,
    )
    assert problems(path) == [
        f"{path}:9:22: bad pattern '(unclosed': missing ), unterminated subpattern at position 0 "
        "(at services[0].rules[0].when.args)"
    ]


def test_bad_phone_number_is_located(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.yaml",
        """\
        tenant: {id: t1}
        numbers: [{number: "+46 70 12"}]
        """,
    )
    assert problems(path) == [
        f"{path}:2:12: invalid phone number '+46 70 12': not a valid number for its country (at numbers[0].number)"
    ]


def test_template_syntax_error_is_located(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "tpl.yaml",
        """\
        tenant: {id: t1}
        numbers: [{number: "72500"}]
        services:
          - id: s1
            number: "72500"
            keyword: MELLO
            rules:
              - name: r1
                reply: "Hej {{ oops"
        """,
    )
    [found] = problems(path)
    assert found.startswith(f"{path}:9:9: template syntax error on line 1:")
    assert found.endswith("(at services[0].rules[0].reply)")


def test_keyword_conflict_names_both_files(tmp_path: Path) -> None:
    a = write(
        tmp_path,
        "a.yaml",
        """\
        tenant: {id: ta}
        numbers: [{number: "72500"}]
        services:
          - {id: one, number: "72500", keyword: RÖSTA, rules: [{name: r, reply: a}]}
        """,
    )
    b = write(
        tmp_path,
        "b.yaml",
        """\
        tenant: {id: tb}
        numbers: [{number: "72500"}]
        services:
          - {id: two, number: "72500", keyword: rosta, rules: [{name: r, reply: b}]}
        """,
    )
    [found] = problems(a, b)
    assert found == (f"{b}:4:5: keyword 'rosta' on number 72500 is claimed by both ta/one ({a}:4) and tb/two ({b}:4)")


def test_dedicated_number_belongs_to_one_tenant(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", 'tenant: {id: ta}\nnumbers: [{number: "+46766861004"}]\n')
    b = write(tmp_path, "b.yaml", 'tenant: {id: tb}\nnumbers: [{number: "0766861004"}]\n')
    assert problems(a, b) == [
        f"{b}:2:12: number +46766861004 is already declared by tenant 'ta' in {a} (at numbers[0].number)"
    ]


def test_too_many_rules_is_refused(tmp_path: Path) -> None:
    rules = "\n".join(f"      - {{name: r{i}, reply: x}}" for i in range(101))
    path = write(
        tmp_path,
        "big.yaml",
        f"""\
tenant: {{id: t1}}
numbers: [{{number: "72500"}}]
services:
  - id: s1
    number: "72500"
    keyword: MELLO
    rules:
{rules}
""",
    )
    assert problems(path) == [
        f"{path}:7:5: service 's1' has 101 rules; at most 100 are allowed in one service "
        "(split it into several services) (at services[0].rules)"
    ]


def test_reserved_word_cannot_be_a_keyword(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "r.yaml",
        """\
        tenant: {id: t1}
        numbers: [{number: "72500"}]
        services:
          - {id: s1, number: "72500", keyword: Stopp, rules: [{name: r, reply: x}]}
        """,
    )
    assert problems(path) == [f"{path}:4:5: keyword 'Stopp' is a reserved word on number 72500"]


def test_every_problem_in_a_file_is_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "many.yaml",
        """\
        tenant: {id: t1, colour: red}
        numbers: [{number: "72500", type: fancy}]
        """,
    )
    found = problems(path)
    assert len(found) == 2
    assert found[0].startswith(f"{path}:1:18: unknown key 'colour'")
    assert found[1].startswith(f"{path}:2:35: expected one of shared, dedicated, voice, email")


def test_a_number_may_be_declared_in_any_loaded_file_whatever_their_order(tmp_path: Path) -> None:
    user = write(
        tmp_path,
        "a.yaml",
        """\
        tenant: {id: kund, name: Kund AB}
        services:
          - id: quiz
            number: "72500"
            keyword: QUIZ
            rules: [{name: svar, reply: "Tack!"}]
        """,
    )
    owner = write(
        tmp_path,
        "b.yaml",
        """\
        tenant: {id: tv, name: TV AB}
        numbers: [{number: "72500", type: shared}]
        services:
          - id: mello
            number: "72500"
            keyword: MELLO
            rules: [{name: vote, reply: "Tack!"}]
        """,
    )
    for paths in ((user, owner), (owner, user)):
        config = load(paths, ACTIONS)
        assert {"kund/quiz", "tv/mello"} <= set(config.services)


def test_shipped_demo_rules_are_valid() -> None:
    from kodeord.platform import demo_rules
    from kodeord.support.manager import Hooks, make_manager

    config = load(demo_rules(), Hooks(make_manager()).actions())
    assert "demo-tv/mello" in config.services
    assert "demo-forening/adressbok" in config.services


def test_reply_with_a_misspelt_variable_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "var.yaml", SERVICE + '    rules:\n      - name: r1\n        reply: "Tack för {{ agrs }}"\n')
    [found] = problems(path)
    assert found.startswith(f"{path}:9:9: template uses unknown variable 'agrs'; known are: args, channel,")


def test_a_costly_template_is_refused_where_it_stands(tmp_path: Path) -> None:
    path = write(
        tmp_path, "tpl.yaml", SERVICE + "    rules:\n      - name: r1\n        reply: \"{{ 'a' * 1000000000 }}\"\n"
    )
    assert problems(path) == [
        f"{path}:9:9: template would go over its budget: template would produce more than 1000000 characters"
        " in all (at services[0].rules[0].reply)"
    ]


# Limits: a rule file costs time and memory in proportion to its size, and faults past a limit are located.


def laughs(indent: str) -> str:
    """Mapping lines a to g, each a list of ten aliases of the one before: g would stand for 11,111,111 values."""
    lines = [f"{indent}a: &a [{', '.join(['lol'] * 10)}]"]
    for name, inner in zip("bcdefg", "abcdef", strict=True):
        lines.append(f"{indent}{name}: &{name} [{', '.join([f'*{inner}'] * 10)}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("where", "indent", "line"),
    [
        ("    settings:\n", 6, 13),
        ("    rules:\n      - name: r1\n        do: test.vote\n        with:\n          poll: x\n", 10, 17),
    ],
    ids=["settings", "with"],
)
def test_alias_bomb_is_refused(tmp_path: Path, where: str, indent: int, line: int) -> None:
    path = write(tmp_path, "lol.yaml", SERVICE + where + laughs(" " * indent))
    column = indent + len("f: &f [") + len("*e, ") * 7 + 1  # the eighth alias on the line of f
    assert problems(path) == [
        f"{path}:{line}:{column}: with alias *e the aliases in this file stand for 1,012,328 values, "
        "12,328 more than the 1,000,000 allowed; use fewer aliases or write the values out"
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("&x {a: [*x]}", "4:61: alias *x is inside the value it names; a value cannot contain itself"),
        (
            "{a: &x " + "[" * 50 + "]" * 50 + ", b: " + "[" * 11 + "*x" + "]" * 11 + "}",
            "4:176: alias *x nests lists and mappings 65 levels deep here, 1 more than the 64 allowed",
        ),
    ],
    ids=["itself", "too-deep"],
)
def test_alias_faults_are_located(tmp_path: Path, value: str, expected: str) -> None:
    path = write(
        tmp_path,
        "alias.yaml",
        f'tenant: {{id: t1}}\nnumbers: [{{number: "72500"}}]\nservices:\n'
        f'  - {{id: s1, number: "72500", keyword: A, settings: {value}}}\n',
    )
    assert problems(path) == [f"{path}:{expected}"]


DEEP = 5000  # levels; Python's recursion limit is 1,000 frames


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ("{x: " + "[" * DEEP + "]" * DEEP + "}", "7:79"),
        ("{x: " + "{a: " * DEEP + "}" * DEEP + "}", "7:259"),
        ("\n      x:\n" + "".join(" " * (8 + i) + "a:\n" for i in range(3000)), "69:69"),
        ("\n      x:\n        " + "- " * DEEP + "lol", "9:129"),
    ],
    ids=["flow-lists", "flow-mappings", "block-mappings", "block-lists"],
)
def test_deep_nesting_is_refused(tmp_path: Path, value: str, where: str) -> None:
    path = write(tmp_path, "deep.yaml", f"{SERVICE}    settings: {value}\n")
    assert problems(path) == [
        f"{path}:{where}: lists and mappings nested more than 64 levels deep here; at most 64 levels are allowed"
    ]


def test_an_impossible_date_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, "date.yaml", SERVICE + "    rules: [{name: r1, reply: x, when: {from: 2026-13-01}}]\n")
    assert problems(path) == [
        f"{path}:7:47: cannot read '2026-13-01' as a date (month must be in 1..12); "
        "put it in quotes if it is meant as text"
    ]


def test_oversize_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(SERVICE.encode() + b"# padding\n" * (MAX_FILE_BYTES // 10))
    assert problems(path) == [
        f"{path}:1:1: file is 8,000,106 bytes, 106 more than the 8,000,000 allowed; split it into several files"
    ]


def test_a_file_of_comments_loads_without_keeping_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Comments after a value were joined one line at a time: time quadratic in their length (50 MB took hours).
    kept: list[object] = []

    class CountedComment(tokens.CommentToken):  # type: ignore[misc]
        def __init__(self, *args: object, **kwargs: object) -> None:
            kept.append(args[0])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(tokens, "CommentToken", CountedComment)
    comments = "".join(f"# {i:06} {'x' * 70}\n" for i in range(25_000))  # 2 MB
    text = SERVICE + "    fallback: hej # after a value\n" + comments + "    aliases: [MELO]\n"
    path = write(tmp_path, "comments.yaml", text)
    service = load([path], ACTIONS).services["t1/s1"]
    assert (service.fallback, service.aliases, kept) == ("hej", ("MELO",), [])


def test_values_nested_too_deep_for_conversion_are_a_problem() -> None:
    # parse_yaml refuses such files; values from elsewhere (a list that contains itself) are refused too.
    looped: list[object] = []
    looped.append(looped)
    deep: list[object] = []
    for _ in range(DEEP):
        deep = [deep]
    for value in (looped, deep):
        checker = Checker("f.yaml")
        assert Anything().check(value, checker, Loc("f.yaml", 3, 5), "settings") is None
        found = [str(p) for p in checker.problems]
        assert found == ["f.yaml:3:5: values nested more than 64 levels deep (at settings)"]


YAML_PIECES = st.sampled_from(
    [
        "[",
        "]",
        "{",
        "}",
        ": ",
        ", ",
        "- ",
        "? ",
        "\n",
        "  ",
        "#",
        "&a ",
        "*a",
        "<<: ",
        "!!set ",
        "!!int ",
        "!!timestamp ",
        "!!binary ",
        "!x ",
        "|\n",
        ">-\n",
        "'",
        '"',
        "---\n",
        "%YAML 1.1\n",
        "2026-13-01",
        "0x_",
        "1e999",
        "tenant: ",
        "{id: t1}",
        "services: ",
        "settings: ",
        "rules: ",
        "lol",
        "\t",
        "\ufeff",
        "\x00",
        "\r",
    ]
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(any_bytes, st.lists(YAML_PIECES, max_size=60).map(lambda pieces: "".join(pieces).encode())))
@example(b"[" * DEEP)
@example(b"a: !!set 1")
@example(b"a: 0x_")
def test_any_bytes_load_or_give_located_problems(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "any.yaml"
    path.write_bytes(data)
    try:
        load([path], ACTIONS)
    except RuleFileError as exc:
        assert exc.problems
        assert all(p.file == str(path) and p.line >= 1 and p.column >= 1 and p.message for p in exc.problems)


@pytest.mark.parametrize(
    ("text", "where", "plain"),
    [
        ("a:\n  b: 1\n c: 2\n", "3:2", "this line is indented differently from the lines before it"),
        ("reply: Svar: ja\n", "1:12", "a ': ' where no new key can start: put a value that holds ': ' in quotes"),
        ("a:\n\t- b\n", "2:1", "a tab character: indent with spaces only"),
        ('reply: "hej\nx: 1\n', "1:8", "a quote starts here and is never closed"),
        ("a: [1, 2\nb: 3\n", "1:4", "a list in [ ] is not closed, or its items are not separated by commas"),
        ("a: *nope\n", "1:4", "an alias (*name) with no anchor (&name) before it"),
        (
            "services:\n  - id: x\n    number\n    keyword: y\n",
            "3:5",
            "a line that is neither 'key: value' nor a list item",
        ),
    ],
)
def test_yaml_syntax_errors_read_in_plain_words(tmp_path: Path, text: str, where: str, plain: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    [found] = problems(path)
    assert found.startswith(f"{path}:{where}: YAML syntax error: {plain}"), found
    assert "<block" not in found and "scalar" not in found


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "many.yaml",
        """\
        tenant: {id: t1}
        numbers: [{number: "72500"}]
        services:
          - id: s1
            number: "72500"
            keyword: HEJ
            rules:
              - {name: r1, reply: "{{ oops"}
              - {name: r2, do: nosuch.action}
          - id: s2
            number: "99999"
            keyword: HEJ
            colour: red
          - id: s3
            number: "72500"
            keywrd: DÅ
        """,
    )
    expected = [
        ("8:20", "template syntax error on line 1"),
        ("9:20", "unknown action 'nosuch.action'"),
        ("11:5", "number 99999 is not declared"),
        ("13:5", "unknown key 'colour'"),
        ("16:5", "unknown key 'keywrd' (did you mean 'keyword'?)"),
    ]
    found = problems(path)
    assert len(found) == len(expected), found
    for problem, (where, start) in zip(found, expected, strict=True):
        assert problem.startswith(f"{path}:{where}: {start}"), problem


def test_a_character_yaml_does_not_allow_is_located_where_it_stands(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text('tenant: {id: tv}\nnumbers: []\nservices:\n  - id: "a\x7fb"\n', encoding="utf-8")
    problems = parse_yaml(path)[1]
    assert [str(p) for p in problems] == [f"{path}:4:11: YAML does not allow the character U+007F here"]


def test_a_problem_is_one_line_whatever_its_message_quotes() -> None:
    quoted = Problem("rules.yaml", 7, 5, "customer service: '\r\n' is not a phone number", "tenant.company")
    assert str(quoted) == "rules.yaml:7:5: customer service: '\\r\\n' is not a phone number (at tenant.company)"
