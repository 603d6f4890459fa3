from convoflow.engine.render import compile_text, placeholders, render, render_value, to_text


def test_variables_and_contact_fields_are_substituted() -> None:
    text = "Hi {{contact.name}}, {{ quantity }} x {{product}}"
    assert render(text, {"quantity": 2, "product": "Latte"}, {"name": "Ana"}) == "Hi Ana, 2 x Latte"


def test_missing_variables_render_as_empty_text() -> None:
    assert render("[{{nothing}}] [{{contact.email}}] [{{a.b.c}}]", {}, {}) == "[] [] []"


def test_dotted_paths_read_into_objects_and_lists() -> None:
    variables = {"loan": {"status": "approved", "offers": [{"rate": 4.5}]}}
    assert render("{{loan.status}} at {{loan.offers.0.rate}}%", variables) == "approved at 4.5%"


def test_values_are_shown_the_way_a_customer_reads_them() -> None:
    assert to_text(1500.0) == "1500"
    assert to_text(True) == "yes"
    assert to_text(None) == ""
    assert to_text(["a", 2]) == "a, 2"


def test_whatsapp_positional_placeholders_are_left_alone() -> None:
    assert render("Code {{1}}", {"1": "x"}) == "Code {{1}}"


def test_text_without_placeholders_is_returned_as_is() -> None:
    text = "plain"
    assert render(text, {}) is text


def test_compiled_texts_are_cached() -> None:
    assert compile_text("Hi {{x}}") is compile_text("Hi {{x}}")


def test_json_values_are_rendered_deeply_and_single_placeholders_keep_their_type() -> None:
    body = {"amount": "{{amount}}", "note": "for {{contact.name}}", "tags": ["{{tag}}", 3]}
    rendered = render_value(body, {"amount": 1500, "tag": "new"}, {"name": "Ana"})
    assert rendered == {"amount": 1500, "note": "for Ana", "tags": ["new", 3]}


def test_placeholders_are_listed_from_nested_values() -> None:
    assert placeholders({"a": ["{{x}} {{y.z}}"], "b": "{{contact.name}}", "c": 1}) == [
        "x",
        "y.z",
        "contact.name",
    ]
