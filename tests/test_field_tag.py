"""`{% field %}` (config/templatetags/fields.py): the markup every form field on the site gets,
written out literally — the label and "(optional)", help and error tied to the input by
aria-describedby, the error announced, values escaped, passwords never echoed."""

from __future__ import annotations

from django import forms
from django.template import Context, Template
from django.utils import translation


class Sample(forms.Form):
    email = forms.EmailField(
        label="Email",
        help_text="For the receipt.",
        error_messages={"invalid": "Enter a valid email address."},
    )
    nickname = forms.CharField(label="Nick <name>", required=False, max_length=20)
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    country = forms.ChoiceField(choices=[("US", "United States"), ("CN", "China")])
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    code = forms.CharField(widget=forms.TextInput(attrs={"autofocus": True}))


def render(form: forms.Form, name: str) -> str:
    return Template("{% field form." + name + " %}").render(Context({"form": form}))


def test_a_required_email_with_help_and_no_error():
    form = Sample(initial={"email": "a@example.com"})
    assert render(form, "email") == (
        '<div class="field">\n'
        '  <label for="id_email">Email</label>\n'
        '  <p class="help" id="id_email-help">For the receipt.</p>\n'
        "  \n"
        '  <input type="email" name="email" id="id_email" value="a@example.com" maxlength="320"'
        ' required aria-required="true" data-msg-required="This field is required."'
        ' data-msg-invalid="Enter a valid email address." aria-describedby="id_email-help">\n'
        "\n</div>\n"
    )


def test_an_error_is_announced_and_described_before_the_help():
    form = Sample(data={"email": "not an <email>"})
    assert not form.is_valid()
    assert render(form, "email") == (
        '<div class="field has-error">\n'
        '  <label for="id_email">Email</label>\n'
        '  <p class="help" id="id_email-help">For the receipt.</p>\n'
        '  <p class="error" id="id_email-error"><span class="visually-hidden">Error:</span>'
        " Enter a valid email address.</p>\n"
        '  <input type="email" name="email" id="id_email" value="not an &lt;email&gt;"'
        ' maxlength="320" required aria-required="true"'
        ' data-msg-required="This field is required."'
        ' data-msg-invalid="Enter a valid email address." aria-invalid="true"'
        ' aria-describedby="id_email-error id_email-help">\n'
        "\n</div>\n"
    )


def test_optional_escaped_label_in_chinese():
    with translation.override("zh-hans"):
        html = render(Sample(), "nickname")
    assert html == (
        '<div class="field">\n'
        '  <label for="id_nickname">Nick &lt;name&gt;'
        ' <span class="optional">（选填）</span></label>\n'
        "  \n"
        "  \n"
        '  <input type="text" name="nickname" id="id_nickname" maxlength="20">\n'
        "\n</div>\n"
    )


def test_a_password_is_never_echoed_back():
    form = Sample(data={"password": "s3cret-typed"})
    form.is_valid()
    html = render(form, "password")
    assert "s3cret-typed" not in html
    assert (
        '<input type="password" name="password" id="id_password" autocomplete="new-password"'
        in html
    )


def test_a_select_marks_the_chosen_option():
    html = render(Sample(initial={"country": "CN"}), "country")
    assert (
        '<select name="country" id="id_country" required aria-required="true">'
        '<option value="US">United States</option>'
        '<option value="CN" selected>China</option></select>\n\n\n</div>\n'
    ) in html


def test_a_textarea_keeps_what_was_typed_escaped():
    form = Sample(data={"message": "<b>hi</b> & bye"})
    form.is_valid()
    assert (
        '<textarea name="message" id="id_message" cols="40" rows="3">'
        "&lt;b&gt;hi&lt;/b&gt; &amp; bye</textarea>\n\n\n</div>\n"
    ) in render(form, "message")


def test_autofocus_is_left_to_the_page():
    # Focus moves to the error summary or the first field by the page's own script; a field
    # that grabs focus on its own would skip the heading for screen-reader users.
    html = render(Sample(), "code")
    assert "autofocus" not in html
    assert '<input type="text" name="code" id="id_code" required aria-required="true"' in html
