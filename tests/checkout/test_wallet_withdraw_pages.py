"""The withdraw pages: amount, where it goes, confirm; the status page is its owner's only."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from payments.models import Refund, Wallet, Withdrawal
from tests.payments.test_withdrawals import top_up

pytestmark = pytest.mark.django_db
URL = "/wallet/withdraw/"


@pytest.fixture
def funded(shop, alice, client):
    older = top_up(alice, 3000, shop, days_ago=10)
    newer = top_up(alice, 2000, shop, days_ago=5)
    client.force_login(alice)
    return older, newer


def test_links_from_the_account_and_top_up_pages(client, funded):
    for page in (reverse("account"), reverse("checkout:wallet_top_up")):
        assert f'href="{URL}"' in client.get(page).content.decode()


def test_review_shows_where_each_part_goes_then_confirm_withdraws_once(
    client, funded, alice, django_capture_on_commit_callbacks
):
    page = client.get(URL).content.decode()
    assert "You can withdraw up to $50.00." in page
    review = client.post(URL, {"step": "review", "amount": "42.00"})
    assert review.status_code == 200
    text = review.content.decode()
    assert "$30.00 to Visa ···4242, usually 5–10 business days" in text
    assert "$12.00 to Visa ···4242, usually 5–10 business days" in text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', text).group(1)
    assert 'name="amount" value="42.00"' in text
    assert Withdrawal.objects.count() == 0  # reviewing moves nothing
    form = {"step": "confirm", "amount": "42.00", "idempotency_key": key}
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(URL, form)
    withdrawal = Withdrawal.objects.get()
    assert done.status_code == 302
    assert done["Location"] == f"/wallet/withdrawals/{withdrawal.public_id}/"
    again = client.post(URL, form)  # the double press
    assert again["Location"] == done["Location"]
    assert (Withdrawal.objects.count(), Refund.objects.count()) == (1, 2)
    assert Wallet.objects.get(user=alice).balance == 800
    status = client.get(done["Location"]).content.decode()
    assert "$42.00 from your wallet: Completed" in status
    assert status.count("Arrived") == 2  # each part


@pytest.mark.parametrize(
    ("amount", "message", "review_status", "confirm_status"),
    [
        ("0", "Enter an amount greater than zero.", 400, 400),
        ("-5", "Enter an amount greater than zero.", 400, 400),
        ("abc", "Enter an amount like 20 or 20.50.", 400, 400),
        ("", "Enter how much to withdraw.", 400, 400),
        ("1.234", "Enter an amount with no more decimals than USD has.", 400, 400),
        # Checked by the form on review, and by the service under the wallet lock on confirm.
        ("50.01", "You can withdraw at most $50.00 right now.", 400, 409),
        ("1e9", "You can withdraw at most $50.00 right now.", 400, 409),
        ("99999999999999999999", "Enter an amount like 20 or 20.50.", 400, 400),
    ],
)
@pytest.mark.parametrize("step", ["review", "confirm"])
def test_bad_amounts_are_a_form_error_not_a_500(
    client, funded, amount, message, review_status, confirm_status, step
):
    response = client.post(URL, {"step": step, "amount": amount, "idempotency_key": "k"})
    assert response.status_code == (review_status if step == "review" else confirm_status)
    text = response.content.decode()
    assert message in text
    assert f'value="{amount}"' in text or amount == ""  # what was typed stays
    assert Withdrawal.objects.count() == 0


def test_what_cannot_be_withdrawn_offers_a_ticket(client, shop, alice):
    old = top_up(alice, 2000, shop, days_ago=200)
    client.force_login(alice)
    text = client.get(URL).content.decode()
    assert "There is nothing you can withdraw right now." in text
    assert "This top-up is older than its payment provider accepts refunds for." in text
    assert f"/support/?code=withdrawal_past_refund_window&amp;order={old.order.number}" in text


def test_a_stranger_gets_404_for_someone_elses_withdrawal(client, funded, alice, mallory):
    client.post(URL, {"step": "confirm", "amount": "10", "idempotency_key": "k"})
    withdrawal = Withdrawal.objects.get(user=alice)
    client.force_login(mallory)
    assert client.get(f"/wallet/withdrawals/{withdrawal.public_id}/").status_code == 404
    client.logout()
    assert client.get(f"/wallet/withdrawals/{withdrawal.public_id}/").status_code == 302


def test_the_data_export_lists_withdrawals_and_their_parts(client, funded):
    client.post(URL, {"step": "confirm", "amount": "42", "idempotency_key": "k"})
    data = client.get(reverse("account_export")).json()
    [withdrawal] = data["withdrawals"]
    assert (withdrawal["amount"], withdrawal["currency"]) == (4200, "USD")
    assert sorted((p["amount"], p["method"]) for p in withdrawal["parts"]) == [
        (1200, "card"),
        (3000, "card"),
    ]
    assert sorted(e["amount"] for e in data["wallet"] if e["kind"] == "withdrawal") == [
        -3000,
        -1200,
    ]


@pytest.mark.parametrize("key", [None, "", "k" * 256])
def test_a_confirm_without_a_usable_key_withdraws_nothing_and_says_so(client, funded, key):
    form = {"step": "confirm", "amount": "10"}
    if key is not None:
        form["idempotency_key"] = key
    response = client.post(URL, form)
    assert response.status_code == 400
    assert (
        "Nothing was withdrawn. Review the amount and confirm again." in response.content.decode()
    )
    assert 'value="10"' in response.content.decode()
    assert Withdrawal.objects.count() == 0


def test_ten_parts_are_listed_oldest_source_first_on_the_page_and_in_the_api(
    client, shop, alice, django_capture_on_commit_callbacks
):
    """Part keys end in -1 ... -10; sorted as text, -10 came second. The page and the API list
    the parts in the order they were planned: the oldest top-up first."""
    from payments import services

    for days_ago, amount in enumerate((100, 200, 300, 400, 500, 600, 700, 800, 900, 1000)):
        top_up(alice, amount, shop, days_ago=20 - days_ago)
    with django_capture_on_commit_callbacks(execute=True):
        withdrawal, _created = services.withdrawal_request(
            user=alice, currency="USD", amount=5500, idempotency_key="ten-parts"
        )
    client.force_login(alice)
    page = client.get(f"/wallet/withdrawals/{withdrawal.public_id}/").content.decode()
    shown = re.findall(r'<td class="num">\$([0-9.]+)</td>', page)
    assert shown == [
        "1.00", "2.00", "3.00", "4.00", "5.00", "6.00", "7.00", "8.00", "9.00", "10.00"
    ]  # fmt: skip
    body = client.get(f"/api/v1/wallet/withdrawals/{withdrawal.public_id}/").json()
    assert [p["amount"] for p in body["parts"]] == [
        100, 200, 300, 400, 500, 600, 700, 800, 900, 1000
    ]  # fmt: skip
