"""`agents.core.registry`: loading, validation (errors name source, entry and problem), version."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.core.errors import RegistryError
from agents.core.registry import Account, Webhook, load_registry, parse_registry
from tests.unit.agents.factories import ONE_AGENCY, REGISTRY_YAML, build_registry


def test_test_registry_loads_with_lookup_tables() -> None:
    registry = build_registry()
    assert registry.agency_ids == ("kejati-jateng", "pemprov-jateng", "pt-semarang", "bpk-jateng")
    pemprov = registry.agencies[1]
    assert pemprov.name == "Pemerintah Provinsi Jawa Tengah"
    assert pemprov.accounts == (
        Account(id="2001", username="humasjateng"),
        Account(id="2002", username="PemprovJateng"),
    )
    assert dict(registry.agency_by_account_id) == {
        "1001": "kejati-jateng",
        "2001": "pemprov-jateng",
        "2002": "pemprov-jateng",
        "3001": "pt-semarang",
        "4001": "bpk-jateng",
    }
    # Handles are looked up lower-cased: X handles are case-insensitive.
    assert dict(registry.agency_by_username) == {
        "kejatijateng": "kejati-jateng",
        "humasjateng": "pemprov-jateng",
        "pemprovjateng": "pemprov-jateng",
        "pt_semarang": "pt-semarang",
        "bpkjateng": "bpk-jateng",
    }
    assert len(registry.version) == 16
    int(registry.version, 16)


def test_shipped_registry_is_valid() -> None:
    registry = load_registry(Path(__file__).parents[4] / "deploy" / "agencies.yaml")
    assert {"pemprov-jateng", "kejati-jateng", "pt-semarang", "bpk-jateng"} <= set(
        registry.agency_ids
    )


def test_load_registry_missing_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(RegistryError, match="registry file not found") as info:
        load_registry(path)
    assert str(path) in str(info.value)


def test_load_registry_reads_the_file_and_names_it_in_errors(tmp_path: Path) -> None:
    good = tmp_path / "agencies.yaml"
    good.write_text(ONE_AGENCY, encoding="utf-8")
    assert load_registry(good).agency_ids == ("kejati-jateng",)
    bad = tmp_path / "bad.yaml"
    bad.write_text(ONE_AGENCY.replace("kejati-jateng", "Kejati"), encoding="utf-8")
    with pytest.raises(RegistryError) as info:
        load_registry(bad)
    assert str(info.value).startswith(f"{bad}: agencies[0]")


def test_load_registry_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(ONE_AGENCY.replace("Tinggi", "T\xefnggi").encode("latin-1"))
    with pytest.raises(RegistryError, match="cannot read the registry") as info:
        load_registry(path)
    assert str(path) in str(info.value)


# --- validation --------------------------------------------------------------------------------


def two_agencies(first_id: str, second_id: str, *, second_account: str = "2001") -> str:
    return f"""\
agencies:
  - id: {first_id}
    name: First
    accounts:
      - id: "1001"
        username: first
  - id: {second_id}
    name: Second
    accounts:
      - id: "{second_account}"
        username: second
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            two_agencies("kejati-jateng", "kejati-jateng"),
            "reg.yaml: agencies[1] (id 'kejati-jateng'): agency id is used twice",
        ),
        (
            two_agencies("kejati-jateng", "Kejati_Jateng"),
            "reg.yaml: agencies[1]: agency id 'Kejati_Jateng' is invalid",
        ),
        (
            two_agencies("kejati-jateng", "-kejati"),
            "reg.yaml: agencies[1]: agency id '-kejati' is invalid",
        ),
        (
            two_agencies("kejati-jateng", "a" * 64),
            f"reg.yaml: agencies[1]: agency id '{'a' * 64}' is invalid",
        ),
        (
            two_agencies("unrouted", "kejati-jateng"),
            "reg.yaml: agencies[0] (id 'unrouted'): agency id 'unrouted' is reserved",
        ),
        (
            two_agencies("kejati-jateng", "pt-semarang", second_account="1001"),
            "reg.yaml: agencies[1] (id 'pt-semarang'): account id '1001' is already claimed "
            "by agency 'kejati-jateng'",
        ),
    ],
)
def test_invalid_registry_names_source_entry_and_problem(text: str, expected: str) -> None:
    with pytest.raises(RegistryError) as info:
        parse_registry(text, source="reg.yaml")
    assert str(info.value).startswith(expected)


def test_longest_valid_agency_id_is_accepted() -> None:
    registry = parse_registry(two_agencies("a" * 63, "0-b"), source="reg.yaml")
    assert registry.agency_ids == ("a" * 63, "0-b")


def test_agency_with_empty_accounts() -> None:
    text = ONE_AGENCY + "  - id: pt-semarang\n    name: PT\n    accounts: []\n"
    with pytest.raises(RegistryError) as info:
        parse_registry(text, source="reg.yaml")
    assert str(info.value).startswith(
        "reg.yaml: agencies[1] (id 'pt-semarang'): 'accounts' must list at least one"
    )


def test_agency_without_accounts_key() -> None:
    text = ONE_AGENCY + "  - id: pt-semarang\n    name: PT\n"
    with pytest.raises(RegistryError, match=r"agencies\[1\] \(id 'pt-semarang'\): 'accounts'"):
        parse_registry(text, source="reg.yaml")


def test_unquoted_numeric_account_id() -> None:
    text = ONE_AGENCY.replace('id: "1001"', "id: 1001")
    with pytest.raises(RegistryError) as info:
        parse_registry(text, source="reg.yaml")
    message = str(info.value)
    assert message.startswith("reg.yaml: agencies[0] (id 'kejati-jateng'): accounts[0]")
    assert "account id 1001 is invalid" in message
    assert "quoted string" in message


def test_non_numeric_account_id() -> None:
    text = ONE_AGENCY.replace('id: "1001"', 'id: "@KejatiJateng"')
    with pytest.raises(RegistryError, match=r"accounts\[0\]: account id '@KejatiJateng'"):
        parse_registry(text, source="reg.yaml")


def test_invalid_username() -> None:
    text = ONE_AGENCY.replace("username: KejatiJateng", 'username: "@KejatiJateng"')
    with pytest.raises(RegistryError, match=r"accounts\[0\]: username '@KejatiJateng' is invalid"):
        parse_registry(text, source="reg.yaml")


def test_handle_claimed_twice() -> None:
    text = two_agencies("kejati-jateng", "pt-semarang").replace(
        "username: second", "username: First"
    )
    with pytest.raises(RegistryError) as info:
        parse_registry(text, source="reg.yaml")
    assert str(info.value).startswith(
        "reg.yaml: agencies[1] (id 'pt-semarang'): username 'First' is already claimed by agency "
        "'kejati-jateng'"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            ONE_AGENCY.replace("    name:", "    nama: x\n    name:"),
            "reg.yaml: agencies[0]: unknown key(s) ['nama']",
        ),
        (
            ONE_AGENCY.replace("        username:", "        handle: x\n        username:"),
            "reg.yaml: agencies[0] (id 'kejati-jateng'): accounts[0]: unknown key(s) ['handle']",
        ),
        (ONE_AGENCY + "version: 2\n", "reg.yaml: unknown top-level key(s) ['version']"),
    ],
)
def test_unknown_key(text: str, expected: str) -> None:
    with pytest.raises(RegistryError) as info:
        parse_registry(text, source="reg.yaml")
    assert str(info.value).startswith(expected)


def test_yaml_syntax_error() -> None:
    text = ONE_AGENCY.replace("name: Kejaksaan", "name: [Kejaksaan")
    with pytest.raises(RegistryError) as info:
        parse_registry(text, source="reg.yaml")
    message = str(info.value)
    assert message.startswith("reg.yaml: not valid YAML at line ")
    assert "\n" not in message


def test_an_account_listed_twice_in_one_agency_says_so() -> None:
    text = """agencies:
  - id: kejati-jateng
    name: Kejaksaan Tinggi Jawa Tengah
    accounts:
      - {id: "1001", username: KejatiJateng}
      - {id: "1001", username: KejatiJateng2}
"""
    with pytest.raises(RegistryError, match="account id '1001' is listed twice in this agency"):
        parse_registry(text, source="reg.yaml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "expected a mapping with an 'agencies' list"),
        ("- id: x\n", "expected a mapping with an 'agencies' list"),
        ("agencies: {}\n", "expected a mapping with an 'agencies' list"),
        ("agencies: []\n", "'agencies' is empty"),
        ("agencies:\n  - kejati-jateng\n", "agencies[0]: expected a mapping"),
        (
            "agencies:\n  - id: x\n    name: ''\n    accounts: [{id: '1', username: a}]\n",
            "agencies[0] (id 'x'): 'name' must be a non-empty string",
        ),
        (
            "agencies:\n  - id: x\n    name: X\n    accounts: ['1']\n",
            "agencies[0] (id 'x'): accounts[0]: expected a mapping",
        ),
    ],
)
def test_registry_shape_errors(text: str, expected: str) -> None:
    with pytest.raises(RegistryError) as info:
        parse_registry(text, source="reg.yaml")
    assert str(info.value).startswith("reg.yaml: ")
    assert expected in str(info.value)


# --- version -----------------------------------------------------------------------------------


def test_version_ignores_comments_and_formatting() -> None:
    reformatted = """\
# a different comment
agencies:
- {id: kejati-jateng, name: "Kejaksaan Tinggi Jawa Tengah",   # inline comment
   accounts: [{username: KejatiJateng, id: '1001'}]}
- id: pemprov-jateng
  accounts:
  - {id: "2001", username: humasjateng}
  - {id: "2002", username: PemprovJateng}
  name: Pemerintah Provinsi Jawa Tengah
- id: pt-semarang
  name: 'Pengadilan Tinggi Semarang'
  accounts: [{id: "3001", username: PT_Semarang}]
- id: bpk-jateng
  name: >-
    BPK Perwakilan Jawa Tengah
  accounts:

  - id: "4001"
    username: BPKJateng
"""
    assert build_registry(reformatted).version == build_registry().version
    assert build_registry(REGISTRY_YAML, source="elsewhere").version == build_registry().version


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('id: "4001"', 'id: "4002"'),
        ("username: BPKJateng", "username: BPK_Jateng"),
        ("name: BPK Perwakilan Jawa Tengah", "name: BPK Jawa Tengah"),
        ("id: bpk-jateng", "id: bpk-jawa-tengah"),
    ],
)
def test_version_changes_with_content(old: str, new: str) -> None:
    assert old in REGISTRY_YAML
    changed = REGISTRY_YAML.replace(old, new)
    assert build_registry(changed).version != build_registry().version


def test_version_changes_when_an_agency_is_added() -> None:
    more = REGISTRY_YAML + (
        "  - id: dinkes-jateng\n    name: Dinkes\n    accounts:\n"
        '      - id: "5001"\n        username: dinkesjateng\n'
    )
    assert build_registry(more).version != build_registry().version


# --- webhooks ----------------------------------------------------------------------------------


def with_webhook(webhook: str) -> str:
    """ONE_AGENCY with `webhook` (YAML lines indented under the agency) added."""
    return (
        ONE_AGENCY + "    webhook:\n" + "".join(f"      {line}\n" for line in webhook.split("\n"))
    )


GOOD_WEBHOOK = (
    "url: https://kejati.example.go.id/aduan?v=1\nsecret_file: /etc/aduan/webhooks/k.secret"
)


def test_a_webhook_is_read_with_its_secret_file_path() -> None:
    (agency,) = parse_registry(with_webhook(GOOD_WEBHOOK), source="reg.yaml").agencies
    assert agency.webhook == Webhook(
        url="https://kejati.example.go.id/aduan?v=1",
        secret_file="/etc/aduan/webhooks/k.secret",
    )
    (without,) = parse_registry(ONE_AGENCY, source="reg.yaml").agencies
    assert without.webhook is None


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8080/hook",
        "http://127.0.0.1/hook",
        "https://[2001:db8::1]:8443/hook",
        "HTTPS://Example.go.id/",
    ],
)
def test_https_and_plain_http_to_this_machine_are_accepted(url: str) -> None:
    text = with_webhook(f"url: '{url}'\nsecret_file: /s")
    (agency,) = parse_registry(text, source="reg.yaml").agencies
    assert agency.webhook is not None and agency.webhook.url == url


@pytest.mark.parametrize(
    "url",
    [
        "http://kejati.example.go.id/aduan",
        "http://localhost.example.com/",
        "http://10.0.0.1/",
        "ftp://example.go.id/",
        "https:///no-host",
        "https://example.go.id/#top",
        "https://example.go.id/a b",
        "https://example.go.id:99999/",
        "https://example.go.id:0/",
        "kejati.example.go.id/aduan",
        "https://example.go.id/" + "a" * 2048,
    ],
)
def test_other_urls_are_refused_with_the_fix(url: str) -> None:
    text = with_webhook(f"url: '{url}'\nsecret_file: /s")
    with pytest.raises(RegistryError) as info:
        parse_registry(text, source="reg.yaml")
    message = str(info.value)
    assert message.startswith("reg.yaml: agencies[0] (id 'kejati-jateng'): webhook: url ")
    assert "write an https:// address" in message


@pytest.mark.parametrize(
    "url",
    [
        "https://kejati:hunter2@example.go.id/aduan",
        "https://token@example.go.id/aduan",
        "http://user:hunter2@localhost/",
    ],
)
def test_a_url_with_credentials_is_refused_without_echoing_them(url: str) -> None:
    text = with_webhook(f"url: '{url}'\nsecret_file: /s")
    with pytest.raises(RegistryError, match=r"webhook: the url carries credentials") as info:
        parse_registry(text, source="reg.yaml")
    assert "hunter2" not in str(info.value)
    assert "token" not in str(info.value)


@pytest.mark.parametrize(
    ("webhook", "expected"),
    [
        ("https://example.go.id/", "webhook: expected a mapping with url and secret_file"),
        (GOOD_WEBHOOK + "\nsecret: abc", "webhook: unknown key(s) ['secret']"),
        ("secret_file: /s", "webhook: 'url' must be the endpoint's address"),
        ("url: https://example.go.id/", "webhook: secret_file None is invalid"),
        (
            "url: https://example.go.id/\nsecret_file: webhooks/k.secret",
            "webhook: secret_file 'webhooks/k.secret' is invalid; write the absolute path",
        ),
    ],
)
def test_webhook_shape_errors_name_the_agency(webhook: str, expected: str) -> None:
    with pytest.raises(RegistryError) as info:
        parse_registry(with_webhook(webhook), source="reg.yaml")
    assert str(info.value).startswith(f"reg.yaml: agencies[0] (id 'kejati-jateng'): {expected}")


def test_a_webhook_changes_the_version_and_registries_without_one_keep_theirs() -> None:
    # The test registry's version before the webhook field existed.
    assert build_registry().version == "2a6d3f7ed4e523c6"
    plain = parse_registry(ONE_AGENCY, source="reg.yaml").version
    hooked = parse_registry(with_webhook(GOOD_WEBHOOK), source="reg.yaml").version
    moved = parse_registry(
        with_webhook(GOOD_WEBHOOK.replace("k.secret", "k2.secret")), source="reg.yaml"
    ).version
    assert len({plain, hooked, moved}) == 3
