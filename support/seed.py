"""Starter help articles (one for each article the failure catalog links to) and canned
replies, in English and Chinese. Admins edit them afterwards; seeding never overwrites."""

from __future__ import annotations

from .models import CannedReply, HelpArticle

ARTICLES = [
    (
        "card-declined",
        "Why was my card declined?",
        "为什么我的银行卡被拒绝？",
        "Your bank decides whether to approve a payment; we are not told the full reason.\n\n"
        "Common reasons: a daily limit, a block on online or foreign payments, or a security "
        "hold. Your bank can tell you which one and lift it.\n\n"
        "You were not charged. Your order is saved: try another card, Alipay, WeChat Pay or "
        "your wallet from the same page.",
        "是否批准付款由您的发卡行决定，我们无法得知完整原因。\n\n"
        "常见原因：超出每日限额、网上或境外支付被限制，或发卡行的安全冻结。请联系您的发卡行，"
        "他们可以告诉您原因并解除限制。\n\n"
        "您没有被扣款，订单已保存：可以在同一页面换一张银行卡，或使用支付宝、微信支付或钱包支付。",
    ),
    (
        "card-details",
        "Checking your card details",
        "核对银行卡信息",
        "Check the card number, the expiry date and the 3-digit security code (CVC) on the back "
        "of the card, then try again. Everything else you typed is kept.",
        "请核对卡号、有效期以及卡背面的 3 位安全码（CVC），然后重试。您填写的其他信息都会保留。",
    ),
    (
        "insufficient-funds",
        "Insufficient funds",
        "余额不足",
        "The card does not have enough available balance or credit for this order. Use another "
        "card or payment method, or top up the card and try again. You were not charged.",
        "此卡的可用余额或额度不足以支付本订单。请换一张银行卡或其他支付方式，或为该卡充值后重试。"
        "您没有被扣款。",
    ),
    (
        "payment-methods",
        "Choosing another way to pay",
        "换一种方式支付",
        "When a payment method is down, under maintenance or unstable, checkout says so and "
        "offers the methods that work now. Your order and details stay as they are when you "
        "switch, and you can never be charged twice for one order.",
        "当某种支付方式暂时不可用、维护中或当前不稳定时，结账页面会说明情况，并推荐当前可用的支付方式。"
        "切换支付方式时，订单和您填写的信息都会保留；同一订单您不会被重复扣款。",
    ),
    (
        "payment-pending",
        "My payment is still being confirmed",
        "我的付款仍在确认中",
        "Some banks answer late. While we are confirming, you will not be charged twice: do not "
        "pay again. The order page updates by itself, and we email you the result.",
        "部分发卡行的答复会延迟。正在确认您的付款期间，您不会被重复扣款，请不要再次支付。"
        "订单页面会自动更新，我们也会通过邮件告知结果。",
    ),
    (
        "security-check",
        "A payment was stopped by a security check",
        "付款未通过安全检查",
        "To protect customers, some payments are stopped by an automatic security check. You "
        "can wait a while and try again, or use another payment method. If you think it is a "
        "mistake, appeal from the payment page and a person will review it.",
        "为保护顾客，部分付款会被自动安全检查拦下。您可以稍后重试，或换一种支付方式。"
        "如果您认为这是误判，可以在支付页面提出申诉，会有客服人员人工复核。",
    ),
    (
        "try-again",
        "Something went wrong: try again",
        "出了点问题：请重试",
        "A temporary problem stopped the payment before anything was charged. Try again in a "
        "moment; if it happens again, choose another payment method.",
        "临时问题导致付款未完成，您没有被扣款。请稍后重试；如果再次出现，请换一种支付方式。",
    ),
    (
        "verification",
        "Approving a payment with your bank (3D Secure)",
        "通过发卡行验证付款（3D 安全验证）",
        "Your bank may ask you to approve the payment in its app or with a code. Keep the page "
        "open until it finishes. If the approval failed or timed out, try again or pay another "
        "way; you were not charged.",
        "发卡行可能会要求您在其 App 中或通过验证码确认付款。请在验证完成前保持页面打开。"
        "如果验证未成功或已超时，请重试或换一种支付方式；您没有被扣款。",
    ),
    (
        "wallet",
        "Paying with your wallet",
        "使用钱包支付",
        "The wallet pays only when its balance covers the whole order. Top it up from your "
        "account page, or pay the order another way.",
        "只有当钱包余额足以支付整个订单时才能使用钱包支付。您可以在账户页面充值，或换一种方式支付。",
    ),
]

CANNED = [
    (
        "Declined by the bank",
        "Thank you for writing. We can see your bank declined the payment; we are not told why. "
        "Your bank can tell you and lift the block. Your order is saved: you can pay it with "
        "another method from the link in your order email.",
        "感谢您的来信。我们看到您的发卡行未批准此笔付款，我们无法得知具体原因。请联系您的发卡行，"
        "他们可以告诉您原因并解除限制。您的订单已保存，可以通过订单邮件中的链接换一种方式支付。",
    ),
    (
        "Refund on its way",
        "We have refunded your payment. It usually reaches your account within 5 to 10 working "
        "days, depending on your bank.",
        "我们已为您办理退款。根据发卡行不同，款项通常会在 5 到 10 个工作日内退回您的账户。",
    ),
    (
        "Lockout cleared",
        "We have lifted the sign-in lock on your account. You can sign in again now; if you do "
        "not remember the password, use “Forgot your password?” on the sign-in page.",
        "我们已解除您账户的登录锁定，您现在可以重新登录。如果忘记了密码，请在登录页面使用“忘记密码”。",
    ),
]


def seed_support() -> int:
    created = 0
    for slug, title_en, title_zh, body_en, body_zh in ARTICLES:
        _obj, new = HelpArticle.objects.get_or_create(
            slug=slug,
            defaults={
                "title_en": title_en,
                "title_zh": title_zh,
                "body_en": body_en,
                "body_zh": body_zh,
            },
        )
        created += new
    for title, body_en, body_zh in CANNED:
        _reply, new = CannedReply.objects.get_or_create(
            title=title, defaults={"body_en": body_en, "body_zh": body_zh}
        )
        created += new
    return created


def on_demo_seeding(sender: object, **kwargs: object) -> int:
    """Receiver of checkout's `demo_seeding` signal (connected in SupportConfig.ready)."""
    return seed_support()
