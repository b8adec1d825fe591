"""The browser baseline of the pages (docs/architecture.md, "Browser baseline").

Every page script is a classic strict script in ES5 syntax, with one ES2015
exception: template literals tagged with ``html`` (``QCall.html``, which
escapes every value). No modules, no build step. Kiosks and lobby TVs run old
embedded browsers that nobody updates offline, and one unknown token makes the
whole script a SyntaxError, so a blank screen, not a missing feature.

The check tokenizes each script (comments, strings, regular expressions and
template text are skipped, so words inside them are not flagged) and looks for
the syntax the baseline leaves out. ``node --check`` also parses each file
when Node.js is installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE_DIRS = ("server/static", "kiosk_ui", "counter_ui", "display")


def page_scripts() -> list[Path]:
    """Every script a page loads, except vendored libraries (server/static/vendor)."""
    found = [p for d in PAGE_DIRS for p in sorted((ROOT / d).glob("*.js"))]
    return [p for p in found if "vendor" not in p.parts]


def page_html() -> list[Path]:
    return [p for d in PAGE_DIRS for p in sorted((ROOT / d).glob("*.html"))]


# -- a small JavaScript tokenizer ------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # "name", "punct", "string", "template", "regex", "number"
    text: str
    line: int


_PUNCTUATION = """
    { } ( ) [ ] ; , < > <= >= == != === !== + - * % ++ -- << >> >>> & | ^ ! ~ && || ? : = += -= *=
    %= <<= >>= >>>= &= |= ^= . / /= => ... ** **= ?. ?? ??= &&= ||=
"""
#: Longest first, so ``>>>=`` is one token, not ``>>`` and ``>=``.
PUNCTUATORS = sorted(_PUNCTUATION.split(), key=len, reverse=True)
#: After these a ``/`` starts a regular expression, not a division.
REGEX_AFTER_WORDS = {
    *("return", "typeof", "case", "do", "else", "in", "instanceof", "new", "delete", "void", "throw"),
}
NAME = re.compile(r"[A-Za-z_$][\w$]*")
NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


class JsSyntaxError(ValueError):
    pass


def tokenize(source: str) -> list[Token]:
    """The tokens of ``source``; a template literal is one token (its ``${}`` parts tokenized too)."""
    tokens: list[Token] = []
    i, line, n = 0, 1, len(source)
    braces: list[str] = []  # "{" for a block or object, "${" for a template substitution

    def regex_allowed() -> bool:
        if not tokens:
            return True
        last = tokens[-1]
        if last.kind == "name":
            return last.text in REGEX_AFTER_WORDS
        if last.kind == "punct":
            return last.text not in (")", "]", "}")
        return False

    def template_rest(start: int) -> int:
        """From just after a ` or a }: the end of this template part (after ` or ${)."""
        nonlocal line
        j = start
        while j < n:
            c = source[j]
            if c == "\\":
                j += 2
                continue
            if c == "\n":
                line += 1
            if c == "`":
                return j + 1
            if source.startswith("${", j):
                braces.append("${")
                return j + 2
            j += 1
        raise JsSyntaxError(f"line {line}: unterminated template literal")

    while i < n:
        c = source[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif source.startswith("//", i):
            end = source.find("\n", i)
            i = n if end < 0 else end
        elif source.startswith("/*", i):
            end = source.find("*/", i + 2)
            if end < 0:
                raise JsSyntaxError(f"line {line}: unterminated comment")
            line += source.count("\n", i, end)
            i = end + 2
        elif c in "'\"":
            j = i + 1
            while j < n and source[j] != c:
                if source[j] == "\n":
                    raise JsSyntaxError(f"line {line}: unterminated string")
                j += 2 if source[j] == "\\" else 1
            tokens.append(Token("string", source[i : j + 1], line))
            i = j + 1
        elif c == "`":
            first = line
            i = template_rest(i + 1)
            tokens.append(Token("template", "`", first))
        elif c == "}" and braces and braces[-1] == "${":
            braces.pop()
            i = template_rest(i + 1)  # the rest of the template: no token of its own
        elif c == "/" and regex_allowed():
            j, in_class = i + 1, False
            while j < n:
                ch = source[j]
                if ch == "\\":
                    j += 2
                    continue
                if ch == "\n":
                    raise JsSyntaxError(f"line {line}: unterminated regular expression")
                if ch == "[":
                    in_class = True
                elif ch == "]":
                    in_class = False
                elif ch == "/" and not in_class:
                    break
                j += 1
            j += 1
            while j < n and (source[j].isalnum() or source[j] in "_$"):
                j += 1  # flags
            tokens.append(Token("regex", source[i:j], line))
            i = j
        elif (m := NAME.match(source, i)) is not None:
            tokens.append(Token("name", m.group(), line))
            i = m.end()
        elif (m := NUMBER.match(source, i)) is not None and (c.isdigit() or source[i + 1 : i + 2].isdigit()):
            tokens.append(Token("number", m.group(), line))
            i = m.end()
        else:
            punct = next((p for p in PUNCTUATORS if source.startswith(p, i)), None)
            if punct is None:
                raise JsSyntaxError(f"line {line}: unexpected character {c!r}")
            if punct == "{":
                braces.append("{")
            elif punct == "}" and braces:
                braces.pop()
            tokens.append(Token("punct", punct, line))
            i += len(punct)
    return tokens


# -- the baseline ----------------------------------------------------------------------------

NOT_ES5_WORDS = {
    "let": "let (use var)",
    "const": "const (use var)",
    "class": "class (use a constructor function)",
    "import": "import (pages are classic scripts, no modules)",
    "export": "export (pages are classic scripts, no modules)",
    "async": "async functions",
    "await": "await",
    "yield": "generators",
}
NOT_ES5_PUNCT = {
    "=>": "an arrow function (use function)",
    "...": "spread or rest (use apply / arguments)",
    "**": "the ** operator (use Math.pow)",
    "**=": "the **= operator",
    "?.": "optional chaining",
    "??": "the ?? operator",
    "??=": "the ??= operator",
    "&&=": "the &&= operator",
    "||=": "the ||= operator",
}


def baseline_problems(source: str) -> list[str]:
    """Each use of syntax outside the baseline, as "line N: what"."""
    try:
        tokens = tokenize(source)
    except JsSyntaxError as exc:
        return [str(exc)]
    problems = []
    for k, tok in enumerate(tokens):
        before = tokens[k - 1] if k else None
        after = tokens[k + 1] if k + 1 < len(tokens) else None
        if tok.kind == "name" and tok.text in NOT_ES5_WORDS and not (before and before.text == "."):
            if not (after and after.text == ":"):  # an object key named like a keyword is ES5
                problems.append(f"line {tok.line}: {NOT_ES5_WORDS[tok.text]}")
        elif tok.kind == "punct" and tok.text in NOT_ES5_PUNCT:
            problems.append(f"line {tok.line}: {NOT_ES5_PUNCT[tok.text]}")
        elif tok.kind == "template" and not (before and before.kind == "name" and before.text == "html"):
            problems.append(f"line {tok.line}: a template literal not tagged with html (it would not escape)")
        elif tok.text == "function" and after and after.text == "*":
            problems.append(f"line {tok.line}: a generator function")
        elif tok.text == "var" and after and after.text in ("{", "["):
            problems.append(f"line {tok.line}: destructuring")
        elif tok.text == "for" and after and after.text == "(":
            depth, j = 0, k + 1
            while j < len(tokens):
                if tokens[j].text in "([{":
                    depth += 1
                elif tokens[j].text in ")]}":
                    depth -= 1
                    if depth == 0:
                        break
                elif depth == 1 and tokens[j].kind == "name" and tokens[j].text == "of":
                    problems.append(f"line {tok.line}: for…of (use a for loop or forEach)")
                j += 1
        elif tok.text == "function":
            problems.extend(default_parameters(tokens, k))
    if not any(t.kind == "string" and t.text in ('"use strict"', "'use strict'") for t in tokens[:12]):
        problems.append('line 1: no "use strict" at the top of the script (or of its wrapping function)')
    return problems


def default_parameters(tokens: list[Token], k: int) -> list[str]:
    """``function f(a = 1)``: a default parameter value (ES2015)."""
    j = k + 1
    while j < len(tokens) and tokens[j].text != "(":
        j += 1
    depth = 0
    for tok in tokens[j:]:
        if tok.text == "(":
            depth += 1
        elif tok.text == ")":
            depth -= 1
            if depth == 0:
                return []
        elif depth == 1 and tok.text == "=":
            return [f"line {tok.line}: a default parameter value"]
    return []


# -- the tests -------------------------------------------------------------------------------


def test_there_are_page_scripts() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in page_scripts()}
    assert {"server/static/qcall.js", "kiosk_ui/kiosk.js", "display/lobby.js"} <= names, names


@pytest.mark.parametrize("script", page_scripts(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_page_script_keeps_to_the_baseline(script: Path) -> None:
    problems = baseline_problems(script.read_text(encoding="utf-8"))
    assert not problems, f"{script.relative_to(ROOT)}: outside the browser baseline:\n" + "\n".join(problems)


@pytest.mark.parametrize("page", page_html(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_pages_load_classic_scripts_only(page: Path) -> None:
    """No module scripts and no inline script (the CSP forbids it anyway): files, by src."""
    text = page.read_text(encoding="utf-8")
    tags = re.findall(r"<script\b[^>]*>", text, flags=re.IGNORECASE)
    assert tags, f"{page.name}: no script"
    for tag in tags:
        assert 'type="module"' not in tag.replace("'", '"'), f"{page.name}: {tag}"
        assert re.search(r"\bsrc=", tag), f"{page.name}: an inline script: {tag}"


def test_node_parses_every_page_script() -> None:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but Node.js is not installed (apt-get install nodejs)")
        pytest.skip("Node.js is not installed: the tokenizer check above still ran")
    for script in page_scripts():
        done = subprocess.run([node, "--check", str(script)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{script.relative_to(ROOT)}:\n{done.stderr}"


# -- the checker itself: precise, neither blind nor jumpy --------------------------------------

GOOD = r"""
(function (global) {
  "use strict";
  // let x = () => 1; const y = `z`; class A {} import x from "y"
  /* for (var a of b) {} ...rest ** ?. ?? */
  var s = "let const => ... `template` class import", t = 'async await';
  var re = /=>|`|\.\.\.|const/g, half = a / b / c;
  var o = { class: 1, let: 2, "import": 3 }, p = o.class + o.let;
  var h = html`<b>${esc(s)}</b> ${items.map(function (i) { return html`<i>${i}</i>`; })}`;
  for (var k in o) { if (k) break; }
  for (var i = 0; i < 3; i++) { p += i; }
  return typeof /x/ === "object" ? s.replace(/\//g, "") : re;
})(window);
"""

BAD = {
    "let x = 1;": "let",
    "const x = 1;": "const",
    "var f = (a) => a;": "arrow",
    "var f = a => a;": "arrow",
    "var s = `plain ${x}`;": "not tagged",
    "class A {}": "class",
    'import x from "y";': "import",
    "export var x = 1;": "export",
    "f(...args);": "spread",
    "for (var x of xs) {}": "for…of",
    "async function f() {}": "async",
    "var v = await g();": "await",
    "function* g() {}": "generator",
    "var {a, b} = o;": "destructuring",
    "function f(a, b = 2) {}": "default parameter",
    "var y = a ?? b;": "??",
    "var z = a?.b;": "optional chaining",
    "var p = 2 ** 3;": "**",
}


def test_the_checker_passes_es5_with_tricky_strings_comments_and_regexes() -> None:
    assert baseline_problems(GOOD) == []


@pytest.mark.parametrize(("line", "what"), BAD.items(), ids=list(BAD.values()))
def test_the_checker_flags_each_newer_syntax(line: str, what: str) -> None:
    problems = baseline_problems('(function () {\n  "use strict";\n  ' + line + "\n})();\n")
    assert len(problems) == 1 and problems[0].startswith("line 3:") and what in problems[0], problems


def test_the_checker_wants_use_strict() -> None:
    assert baseline_problems("(function () { var a = 1; })();") == [
        'line 1: no "use strict" at the top of the script (or of its wrapping function)'
    ]
