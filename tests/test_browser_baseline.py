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


class _Tokenizer:
    """One pass over ``source``: each ``_read_*`` method takes one kind of token (or skips blanks
    and comments) when the text at the cursor starts one, and says whether it did; :meth:`_step`
    tries them in order, punctuation last."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.n = len(source)
        self.i = 0
        self.line = 1
        self.tokens: list[Token] = []
        self.braces: list[str] = []  # "{" for a block or object, "${" for a template substitution

    def run(self) -> list[Token]:
        while self.i < self.n:
            self._step()
        return self.tokens

    def _step(self) -> None:
        c = self.source[self.i]
        readers = (
            self._read_blank,
            self._read_comment,
            self._read_string,
            self._read_template,
            self._read_template_continuation,
            self._read_regex,
            self._read_name,
            self._read_number,
        )
        if not any(read(c) for read in readers):
            self._read_punct(c)

    def _add(self, kind: str, text: str, line: int | None = None) -> None:
        self.tokens.append(Token(kind, text, self.line if line is None else line))

    def _error(self, what: str) -> JsSyntaxError:
        return JsSyntaxError(f"line {self.line}: {what}")

    # -- blanks and comments: no token

    def _read_blank(self, c: str) -> bool:
        if c == "\n":
            self.line += 1
        elif not c.isspace():
            return False
        self.i += 1
        return True

    def _read_comment(self, c: str) -> bool:
        source, i = self.source, self.i
        if source.startswith("//", i):
            end = source.find("\n", i)
            self.i = self.n if end < 0 else end
        elif source.startswith("/*", i):
            end = source.find("*/", i + 2)
            if end < 0:
                raise self._error("unterminated comment")
            self.line += source.count("\n", i, end)
            self.i = end + 2
        else:
            return False
        return True

    # -- literals

    def _read_string(self, c: str) -> bool:
        if c not in "'\"":
            return False
        source, i = self.source, self.i
        j = i + 1
        while j < self.n and source[j] != c:
            if source[j] == "\n":
                raise self._error("unterminated string")
            j += 2 if source[j] == "\\" else 1
        self._add("string", source[i : j + 1])
        self.i = j + 1
        return True

    def _read_template(self, c: str) -> bool:
        """A template literal is one token, at its opening backtick; its ``${}`` parts are tokenized."""
        if c != "`":
            return False
        first = self.line
        self.i = self._template_rest(self.i + 1)
        self._add("template", "`", first)
        return True

    def _read_template_continuation(self, c: str) -> bool:
        """The ``}`` closing a ``${`` part: the rest of the template, no token of its own."""
        if not (c == "}" and self.braces and self.braces[-1] == "${"):
            return False
        self.braces.pop()
        self.i = self._template_rest(self.i + 1)
        return True

    def _template_rest(self, start: int) -> int:
        """From just after a ` or a }: the end of this template part (after ` or ${)."""
        source, j = self.source, start
        while j < self.n:
            c = source[j]
            if c == "\\":
                j += 2
                continue
            if c == "\n":
                self.line += 1
            if c == "`":
                return j + 1
            if source.startswith("${", j):
                self.braces.append("${")
                return j + 2
            j += 1
        raise self._error("unterminated template literal")

    def _regex_allowed(self) -> bool:
        """Whether a ``/`` here starts a regular expression rather than a division."""
        if not self.tokens:
            return True
        last = self.tokens[-1]
        if last.kind == "name":
            return last.text in REGEX_AFTER_WORDS
        if last.kind == "punct":
            return last.text not in (")", "]", "}")
        return False

    def _read_regex(self, c: str) -> bool:
        if not (c == "/" and self._regex_allowed()):
            return False
        source, i = self.source, self.i
        j = self._regex_body_end(i + 1) + 1
        while j < self.n and (source[j].isalnum() or source[j] in "_$"):
            j += 1  # flags
        self._add("regex", source[i:j])
        self.i = j
        return True

    def _regex_body_end(self, start: int) -> int:
        """From just after the opening ``/``: where the closing one is (or the end of the source)."""
        source, j, in_class = self.source, start, False
        while j < self.n:
            ch = source[j]
            if ch == "\\":
                j += 2
                continue
            if ch == "\n":
                raise self._error("unterminated regular expression")
            if ch == "[":
                in_class = True
            elif ch == "]":
                in_class = False
            elif ch == "/" and not in_class:
                break
            j += 1
        return j

    def _read_name(self, c: str) -> bool:
        m = NAME.match(self.source, self.i)
        if m is None:
            return False
        self._add("name", m.group())
        self.i = m.end()
        return True

    def _read_number(self, c: str) -> bool:
        source, i = self.source, self.i
        m = NUMBER.match(source, i)
        if m is None or not (c.isdigit() or source[i + 1 : i + 2].isdigit()):
            return False
        self._add("number", m.group())
        self.i = m.end()
        return True

    # -- punctuation: whatever is left, or an error

    def _read_punct(self, c: str) -> None:
        punct = next((p for p in PUNCTUATORS if self.source.startswith(p, self.i)), None)
        if punct is None:
            raise self._error(f"unexpected character {c!r}")
        if punct == "{":
            self.braces.append("{")
        elif punct == "}" and self.braces:
            self.braces.pop()
        self._add("punct", punct)
        self.i += len(punct)


def tokenize(source: str) -> list[Token]:
    """The tokens of ``source``; a template literal is one token (its ``${}`` parts tokenized too)."""
    return _Tokenizer(source).run()


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


def _at(tokens: list[Token], j: int) -> Token | None:
    return tokens[j] if 0 <= j < len(tokens) else None


def _newer_word(tokens: list[Token], k: int) -> list[str]:
    """``let``, ``class``, ``import``…; not as a property (``o.class``) or an object key (``{let: 1}``)."""
    tok, before, after = tokens[k], _at(tokens, k - 1), _at(tokens, k + 1)
    if tok.kind != "name" or tok.text not in NOT_ES5_WORDS or (before and before.text == "."):
        return []
    if after and after.text == ":":  # an object key named like a keyword is ES5
        return []
    return [f"line {tok.line}: {NOT_ES5_WORDS[tok.text]}"]


def _newer_punctuator(tokens: list[Token], k: int) -> list[str]:
    tok = tokens[k]
    if tok.kind == "punct" and tok.text in NOT_ES5_PUNCT:
        return [f"line {tok.line}: {NOT_ES5_PUNCT[tok.text]}"]
    return []


def _untagged_template(tokens: list[Token], k: int) -> list[str]:
    tok, before = tokens[k], _at(tokens, k - 1)
    if tok.kind == "template" and not (before and before.kind == "name" and before.text == "html"):
        return [f"line {tok.line}: a template literal not tagged with html (it would not escape)"]
    return []


def _function_syntax(tokens: list[Token], k: int) -> list[str]:
    """``function*`` (a generator), else ``function f(a = 1)`` (a default parameter value)."""
    tok, after = tokens[k], _at(tokens, k + 1)
    if tok.text != "function":
        return []
    if after and after.text == "*":
        return [f"line {tok.line}: a generator function"]
    return default_parameters(tokens, k)


def _destructuring(tokens: list[Token], k: int) -> list[str]:
    tok, after = tokens[k], _at(tokens, k + 1)
    if tok.text == "var" and after and after.text in ("{", "["):
        return [f"line {tok.line}: destructuring"]
    return []


def _for_of(tokens: list[Token], k: int) -> list[str]:
    """``for (x of xs)``: an ``of`` at the top level of the parentheses after ``for``."""
    tok, after = tokens[k], _at(tokens, k + 1)
    if not (tok.text == "for" and after and after.text == "("):
        return []
    problems = []
    depth = 0
    for inner in tokens[k + 1 :]:
        if inner.text in "([{":
            depth += 1
        elif inner.text in ")]}":
            depth -= 1
            if depth == 0:
                break
        elif depth == 1 and inner.kind == "name" and inner.text == "of":
            problems.append(f"line {tok.line}: for…of (use a for loop or forEach)")
    return problems


#: One check per rule, each given the tokens and the index of the token to look at.
TOKEN_RULES = (_newer_word, _newer_punctuator, _untagged_template, _function_syntax, _destructuring, _for_of)


def _missing_use_strict(tokens: list[Token]) -> list[str]:
    if any(t.kind == "string" and t.text in ('"use strict"', "'use strict'") for t in tokens[:12]):
        return []
    return ['line 1: no "use strict" at the top of the script (or of its wrapping function)']


def baseline_problems(source: str) -> list[str]:
    """Each use of syntax outside the baseline, as "line N: what"."""
    try:
        tokens = tokenize(source)
    except JsSyntaxError as exc:
        return [str(exc)]
    problems = [problem for k in range(len(tokens)) for rule in TOKEN_RULES for problem in rule(tokens, k)]
    return problems + _missing_use_strict(tokens)


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
    "p **= 3;": "**=",
    "a ??= b;": "??=",
    "a &&= b;": "&&=",
    "a ||= b;": "||=",
    "var v = yield x;": "generators",
    "var [a, b] = o;": "destructuring",
    "var s = css`a { color: ${c} }`;": "not tagged",
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


UNREADABLE = {
    '"use strict";\nvar s = "open\nvar t = 1;': "line 2: unterminated string",
    '"use strict";\n/* open\n': "line 2: unterminated comment",
    '"use strict";\nvar s = html`open\n': "line 3: unterminated template literal",
    '"use strict";\nvar r = /open\nvar t = 1;': "line 2: unterminated regular expression",
    '"use strict";\nvar a = #b;': "line 2: unexpected character '#'",
}


@pytest.mark.parametrize(("source", "error"), UNREADABLE.items(), ids=list(UNREADABLE.values()))
def test_the_checker_reports_a_script_it_cannot_read(source: str, error: str) -> None:
    assert baseline_problems(source) == [error]
