"""The allow-list file: what it accepts, what it refuses (naming the line), and how names match."""
from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.network.allow_list import AllowList


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "allow.txt"
    path.write_text(text)
    return path


def test_file_is_parsed_lower_cased_and_deduplicated(tmp_path: Path) -> None:
    path = write(tmp_path, "# package indexes\nPyPI.org\n\n  files.pythonhosted.org   # wheels\n"
                           ".github.com\npypi.org\ngithub.com.\n")
    assert AllowList.from_file(path).domains == ("pypi.org", "files.pythonhosted.org", "github.com")


@pytest.mark.parametrize(("line", "complaint"), [
    ("10.0.0.1", "is an IP address"),
    ("[::1]", "is an IP address"),
    ("*.example.com", "is a wildcard"),
    ("example .com", "contains a space"),
    ("pypi.org files.pythonhosted.org", "contains a space"),
    ("https://pypi.org/simple", "not a domain name"),
    ("pypi.org:443", "not a domain name"),
    ("a" * 64 + ".com", "not a valid domain name"),
    (".".join(["abcdefghi"] * 26), "a domain name has at most 253"),
    ("bücher.de", "xn-- form"),
    ("-bad.example", "not a valid domain name"),
    ("under_score.example", "not a valid domain name"),
    ("example.123", "ends in a number"),
])
def test_bad_entry_is_refused_naming_its_line(tmp_path: Path, line: str, complaint: str) -> None:
    path = write(tmp_path, f"pypi.org\n# comment\n{line}\n")
    with pytest.raises(ValueError) as refused:
        AllowList.from_file(path)
    assert f"{path}, line 3:" in str(refused.value)
    assert complaint in str(refused.value)


def test_subdomains_match_and_lookalikes_do_not() -> None:
    allow_list = AllowList(("pypi.org", "githubusercontent.com"))
    assert allow_list.allows("pypi.org") and allow_list.allows("WWW.PyPI.org.")
    assert allow_list.allows("objects.githubusercontent.com")
    assert not allow_list.allows("evilpypi.org")
    assert not allow_list.allows("pypi.org.evil.example")
    assert not allow_list.allows("151.101.0.223") and not allow_list.allows("[2a04:4e42::223]")


def test_default_list_covers_package_indexes_and_code_hosts() -> None:
    allow_list = AllowList.default()
    for host in ("pypi.org", "files.pythonhosted.org", "github.com", "codeload.github.com",
                 "raw.githubusercontent.com", "objects.githubusercontent.com", "gitlab.com",
                 "bitbucket.org", "docs.python.org", "requests.readthedocs.io", "api.openai.com"):
        assert allow_list.allows(host), host
    assert not allow_list.allows("example.com")


def test_entries_covered_by_another_are_left_out_of_squids_list() -> None:
    allow_list = AllowList(("api.github.com", "github.com", "gitlab.com"))
    assert allow_list.without_covered() == ("github.com", "gitlab.com")
