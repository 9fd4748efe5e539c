"""signet.api.reference: the docs' field reference, rendered from a derived document."""

from __future__ import annotations

from signet.api.reference import BEGIN, END, render, replace_section
from tests.signet.api.test_operations import build


def test_each_body_is_a_table_of_its_fields_with_limits_and_users() -> None:
    _, api = build()
    section = render([api.document()])
    assert section.startswith(BEGIN) and section.rstrip().endswith(END)
    assert "### Widgets" in section
    assert "#### `Widget`" in section
    assert "| `name` | string | yes | ≥ 1 chars, ≤ 10 chars |  |  |" in section
    assert "Used by: `POST /v1/widgets/{widget_id}`." in section
    assert "webhook `widget.made`" in section
    assert "Other fields are refused (`unknown`)." in section


def test_the_section_replaces_its_old_self_and_nothing_else() -> None:
    page = f"# Title\n\ntext\n\n{BEGIN}\nold\n{END}\n\ntrailer\n"
    new = replace_section(page, f"{BEGIN}\nnew\n{END}\n")
    assert new == f"# Title\n\ntext\n\n{BEGIN}\nnew\n{END}\n\ntrailer\n"
    assert replace_section("# T\n", "S\n") == "# T\n\nS\n"
