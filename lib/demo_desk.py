"""Wording of the demo service desk (used by `lib.demo`): knowledge-base categories and articles,
and what tickets, replies, internal notes and CSAT comments say. Text only, no logic.

Placeholders filled in by the generator: {first} (the contact's first name, or "there"),
{caller} (the same, or "a customer"), {order} (an order number), {invoice} (an invoice number),
{product} (one of PRODUCTS), {article} (the topic's help article, when it is published).
"""

from __future__ import annotations

KB_CATEGORIES = ("Getting started", "Orders & delivery", "Billing & payments", "Returns & refunds",
                 "Account & security", "Troubleshooting")

# (category, title, status, markdown body)
KB_ARTICLES: tuple[tuple[str, str, str, str], ...] = (
    ("Getting started", "Welcome to our help centre", "published", """\
Here you find answers to the questions we are asked most often.

- **Orders & delivery**: tracking, delivery times, changing an address
- **Billing & payments**: invoices, payment methods, double charges
- **Returns & refunds**: how to send something back and when the money arrives
- **Account & security**: passwords, colleagues, deleting your data

Can't find what you need? Write to us from the customer portal and we reply within one working day.
"""),
    ("Getting started", "Opening hours and how to reach us", "published", """\
## Opening hours

| | |
|---|---|
| Monday to Friday | 8:00 – 18:00 |
| Saturday | 9:00 – 13:00 |
| Sunday and public holidays | closed |

## Ways to reach us

1. **Customer portal**: the fastest way, and you can follow your request there.
2. **Email**: replies land in the same ticket, so keep the ticket number in the subject.
3. **Phone and chat**: during opening hours.
4. **In the shop**: walk in, we are happy to help at the counter.
"""),
    ("Getting started", "Creating your customer account", "published", """\
An account lets you follow your orders, download invoices and open support requests.

1. Click **Sign up** at the top of any page.
2. Enter your email address and choose a password of at least 10 characters.
3. Confirm the link we email you (check your spam folder if it does not arrive within 5 minutes).

Business customers: after signing up, ask us to link your account to your company so your
colleagues see the same orders.
"""),
    ("Orders & delivery", "Tracking your order", "published", """\
As soon as your order leaves our warehouse you receive an email with the **tracking link**.

- Open **My orders** in your account and click the order number to see its status.
- *Processing* means we are picking and packing it; *Shipped* means the courier has it.
- Tracking can take up to 24 hours to show the first scan.

If your order shows *Shipped* for more than 5 working days without news, contact us with the
order number and we open an enquiry with the courier.
"""),
    ("Orders & delivery", "Delivery times and costs", "published", """\
| Destination | Delivery time | Cost |
|---|---|---|
| Same country | 1–3 working days | free from 50 € / £45 |
| EU | 3–5 working days | 9.90 € |
| UK, Switzerland | 4–7 working days | 14.90 € (duties may apply) |
| Rest of the world | 7–14 working days | on request |

Orders placed before **14:00** on a working day leave the same day. Large items (furniture,
pallets) are delivered by a freight carrier who calls you to book a time slot.
"""),
    ("Orders & delivery", "Changing the delivery address of an order", "published", """\
You can change the address yourself while the order is *Processing*:

1. Open **My orders** and choose the order.
2. Click **Change address**, enter the new one and save.

Once the order is *Shipped* we can no longer change it ourselves, but we can ask the courier to
redirect the parcel. Open a ticket with the order number and the new address; redirections
usually take one extra working day.
"""),
    ("Orders & delivery", "What to do if your parcel arrives damaged", "published", """\
We are sorry! Please:

1. **Keep the packaging** until the case is closed.
2. Take **photos** of the box and of the damaged item.
3. Open a ticket within **7 days** with the order number and the photos attached.

We send a replacement or refund you in full, whichever you prefer; you do not pay for the return.
"""),
    ("Billing & payments", "Payment methods we accept", "published", """\
- Credit and debit cards (Visa, Mastercard, American Express)
- PayPal
- Bank transfer (orders ship once the payment has arrived, usually within 2 working days)
- **Invoice with 30 days' terms** for business customers with an approved account

All card payments use 3-D Secure; we never store your card number.
"""),
    ("Billing & payments", "Downloading invoices and VAT receipts", "published", """\
Every invoice is in your account under **My orders → Invoices** as a PDF.

- The invoice shows the VAT of each line and your VAT number if you entered one **before** ordering.
- Forgot the VAT number? Send it to us with the invoice number and we issue a corrected invoice.
- Need all invoices of a year? Use **Download all** at the bottom of the list.
"""),
    ("Billing & payments", "Why was I charged twice?", "published", """\
Usually you were **not**: when you pay by card, your bank first *reserves* the amount and then
*charges* it. For a few days both can show on your statement.

- The reservation disappears by itself within **5–7 working days**.
- If two *charges* (not reservations) appear after a week, send us the invoice number and a
  screenshot of your statement and we refund the duplicate the same day.
"""),
    ("Billing & payments", "Updating your billing details", "published", """\
Open **Account → Billing** to change your billing address, company name or VAT number. Changes
apply to **future** invoices; for an invoice already issued, ask us for a corrected copy and
mention the invoice number.
"""),
    ("Returns & refunds", "How to return an item", "published", """\
You can return most items within **30 days** of delivery.

1. Open **My orders**, choose the order and click **Return items**.
2. Select the items and the reason, then print the return label.
3. Drop the parcel at any post office or parcel shop.

Items must be unused and in their original packaging. Made-to-measure items and gift cards
cannot be returned.
"""),
    ("Returns & refunds", "When will I get my refund?", "published", """\
We refund within **5 working days** after the return reaches our warehouse, to the payment method
you used:

- Cards and PayPal: the money shows within 3–5 days after the refund, depending on your bank.
- Bank transfer: we need your IBAN; we ask for it by email if we do not have it.

You receive an email when the refund is made.
"""),
    ("Returns & refunds", "Exchanging an item for another size or colour", "published", """\
The quickest way is to return the item (see *How to return an item*) and place a new order:
the new one ships straight away instead of waiting for the return.

Prefer a direct exchange? Open a ticket with the order number and the size or colour you want;
we reserve it for you for 14 days.
"""),
    ("Account & security", "Resetting your password", "published", """\
1. On the sign-in page click **Forgot password?**
2. Enter the email address of your account.
3. Open the link in the email within **1 hour** and choose a new password.

**The email does not arrive?** Check your spam folder and that you typed the address you signed up
with. Company mail servers sometimes hold our emails for a few minutes.
"""),
    ("Account & security", "Adding colleagues to your business account", "published", """\
Account owners can invite colleagues under **Account → Team → Invite**. Each colleague signs in
with their own email address and password, and sees the company's orders and invoices.

Roles:

- **Buyer**: places orders
- **Finance**: sees invoices and payments
- **Owner**: everything, including inviting and removing colleagues
"""),
    ("Account & security", "Deleting your account and your data", "published", """\
You can delete your account under **Account → Privacy → Delete account**. We then erase your
personal data within 30 days, except what the law requires us to keep (invoices: 10 years).

Open orders must be delivered or cancelled first. Changed your mind? Simply sign up again; your
old orders cannot be restored.
"""),
    ("Troubleshooting", "Checkout shows an error", "published", """\
Most checkout errors come from the browser or the card:

- **Refresh the page** and try again; your basket is kept.
- Try another browser or switch off ad blockers for our site.
- *Payment declined*: your bank refused the payment; check the card's online limit or use PayPal.
- *Address not valid*: remove special characters from the street field.

Still stuck? Send us a screenshot of the error and the time it happened.
"""),
    ("Troubleshooting", "The customer portal does not load", "published", """\
1. Check our status page for planned maintenance.
2. Clear your browser cache or open the portal in a private window.
3. Company networks sometimes block new websites: ask your IT team to allow our domain.

If the page stays blank, tell us your browser and its version.
"""),
    ("Troubleshooting", "Emails from us land in spam", "published", """\
Add our address to your contacts or to your email provider's safe senders list. In Outlook:
right-click the email → **Junk → Never block sender**. In Gmail: open the email and click
**Not spam**.
"""),
    ("Orders & delivery", "Bulk orders and trade prices", "draft", """\
*Draft: prices to be confirmed by sales before publishing.*

From 25 units of the same item we offer trade prices:

| Units | Discount |
|---|---|
| 25–99 | 10 % |
| 100–499 | 15 % |
| 500+ | on request |
"""),
    ("Account & security", "Setting up two-step verification", "draft", """\
*Draft: waiting for the feature to go live.*

Two-step verification asks for a code from an authenticator app each time you sign in on a new
device.

1. Open **Account → Security → Two-step verification**.
2. Scan the QR code with your authenticator app.
3. Enter the 6-digit code to confirm.
"""),
)

PRODUCTS = ("the oak standing desk", "the espresso grinder", "the linen tablecloth", "the Harbour tote bag",
            "the ceramic mug set", "the walnut bookshelf", "the gift card", "the desk lamp", "the wool throw",
            "the cast-iron pan", "the office chair", "the printer paper (5 boxes)")

# category -> weight, and its topics: (subject, the customer's message, a short summary for phone
# and walk-in tickets, the team's first reply, the team's solution, the help article the replies
# point to as {article} or None)
TICKET_CATEGORIES: dict[str, int] = {
    "Orders & delivery": 30, "Billing": 18, "Returns & refunds": 16, "Account & login": 10,
    "Technical issue": 11, "Product question": 11, "Feedback": 4,
}
TOPICS: dict[str, tuple[tuple[str, str, str, str, str, str | None], ...]] = {
    "Orders & delivery": (
        ("Where is my order #{order}?",
         "Hello,\n\nI ordered on the 3rd and order #{order} still hasn't arrived. The tracking link has not "
         "changed for days. Could you check what is going on?\n\nThanks, {first}",
         "order #{order} has not arrived, tracking unchanged",
         "Hi {first},\n\nthanks for getting in touch. I've asked the courier about order #{order} and will "
         "come back to you as soon as I hear from them.",
         "Hi {first},\n\ngood news: the courier found the parcel at their depot, it is out for delivery "
         "today. You can follow it with the tracking link from your order page.",
         "Tracking your order"),
        ("Parcel arrived damaged",
         "Hi,\n\nmy parcel (order #{order}) arrived today with a crushed corner and {product} is scratched. "
         "Photos attached. What can we do?\n\n{first}",
         "{product} from order #{order} arrived damaged",
         "Hi {first},\n\nI'm sorry about that! Thanks for the photos. Would you prefer a replacement or a "
         "refund?",
         "Hi {first},\n\nthe replacement left our warehouse today; you don't need to send the damaged one "
         "back. The steps are also in “{article}”.",
         "What to do if your parcel arrives damaged"),
        ("Wrong item in order #{order}",
         "Good morning,\n\nwe received order #{order} but instead of {product} there was something else in "
         "the box. Can you send the right one?\n\nKind regards,\n{first}",
         "wrong item delivered in order #{order}",
         "Hi {first},\n\napologies for the mix-up. We are checking with the warehouse now.",
         "Hi {first},\n\nthe right item is on its way and a free return label for the wrong one is attached "
         "to your order. Sorry again for the trouble!",
         None),
        ("Change the delivery address",
         "Hi, I just ordered (#{order}) and realised it will go to our old office. Can you change the "
         "address to our new one? Thanks!",
         "wants to change the delivery address of order #{order}",
         "Hi {first},\n\nsure, could you send us the full new address?",
         "Hi {first},\n\ndone: order #{order} will go to the new address. Next time you can change it "
         "yourself while the order is processing, see “{article}”.",
         "Changing the delivery address of an order"),
        ("Delivery date for order #{order}",
         "Hello,\n\ncould you tell me when order #{order} will be delivered? We need {product} before the "
         "end of the month.\n\n{first}",
         "asks when order #{order} will arrive",
         "Hi {first},\n\nlet me check with the warehouse and I'll confirm the date.",
         "Hi {first},\n\norder #{order} ships tomorrow and should arrive within 2 working days, well before "
         "the end of the month.",
         "Delivery times and costs"),
        ("Parcel marked delivered but not received",
         "The tracking for order #{order} says delivered yesterday but nothing arrived, neighbours don't "
         "have it either. Please help.",
         "parcel #{order} shown as delivered but not received",
         "Hi {first},\n\nI've opened an enquiry with the courier; they usually answer within 2 working days.",
         "Hi {first},\n\nthe courier could not find the parcel, so we sent a new one today at no cost.",
         "Tracking your order"),
    ),
    "Billing": (
        ("Charged twice for order #{order}",
         "Hi,\n\nmy card statement shows two payments for order #{order}. Please refund one of them.\n\n{first}",
         "sees two card payments for order #{order}",
         "Hi {first},\n\nthanks, I'm looking into it. Often the first one is only a reservation by your "
         "bank, but let me check our records.",
         "Hi {first},\n\nwe only charged once; the second line is a reservation your bank releases within "
         "a few days. More about this in “{article}”.",
         "Why was I charged twice?"),
        ("Invoice {invoice} shows the wrong VAT number",
         "Hello, invoice {invoice} has our old VAT number on it. Could you issue a corrected invoice? "
         "Our accountant needs it this week.\n\nRegards, {first}",
         "needs invoice {invoice} corrected (VAT number)",
         "Hi {first},\n\nof course. Could you send us the correct VAT number?",
         "Hi {first},\n\nthe corrected invoice is in your account under Invoices. Future invoices use the "
         "new number too.",
         "Updating your billing details"),
        ("Request for a copy of invoice {invoice}",
         "Hi, can you send me a PDF of invoice {invoice}? I can't find it in the portal.",
         "asks for a copy of invoice {invoice}",
         "Hi {first},\n\nhere you go, the invoice is attached. You can always download it under "
         "My orders → Invoices (see “{article}”).",
         "Hi {first},\n\nhere you go, the invoice is attached. You can always download it under "
         "My orders → Invoices (see “{article}”).",
         "Downloading invoices and VAT receipts"),
        ("Payment failed at checkout",
         "I tried to pay three times and the card is declined every time, although it works elsewhere. "
         "What is wrong?",
         "card declined at checkout",
         "Hi {first},\n\nsorry about that. Did you see an error message? A screenshot would help.",
         "Hi {first},\n\nyour bank blocked the payment for its online limit; after raising it the payment "
         "went through and order #{order} is confirmed.",
         "Checkout shows an error"),
        ("Question about payment terms",
         "Hello,\n\nas a business customer, can we pay by invoice with 30 days' terms instead of by card?\n\n"
         "Best, {first}",
         "asks for invoice payment with 30 days' terms",
         "Hi {first},\n\nyes, we offer that to business customers. I've asked our accounts team to approve "
         "your account.",
         "Hi {first},\n\nyour account is approved for invoice payment with 30 days' terms; choose "
         "“Invoice” at checkout from now on.",
         "Payment methods we accept"),
    ),
    "Returns & refunds": (
        ("Return {product}",
         "Hi,\n\nI'd like to return {product} from order #{order}, it doesn't fit our office. How does it "
         "work?\n\n{first}",
         "wants to return {product} (order #{order})",
         "Hi {first},\n\nno problem. You can start the return from your order page; see “{article}” for "
         "the steps.",
         "Hi {first},\n\nwe received the return and the refund is on its way.",
         "How to return an item"),
        ("Where is my refund?",
         "I sent back order #{order} two weeks ago and still haven't got my money back.",
         "refund for returned order #{order} not received",
         "Hi {first},\n\nsorry for the wait, I'm checking with our warehouse whether the return arrived.",
         "Hi {first},\n\nthe return arrived last week and the refund was made today; depending on your bank "
         "it shows within 3–5 days (“{article}”).",
         "When will I get my refund?"),
        ("Exchange for another size",
         "Hello! Could I exchange {product} for the larger size? The order number is #{order}.",
         "exchange of {product}, order #{order}",
         "Hi {first},\n\nsure, I've reserved the larger size for you.",
         "Hi {first},\n\nthe larger one has shipped and the return label for the first one is in your "
         "account.",
         "Exchanging an item for another size or colour"),
        ("Return label not working",
         "The return label for order #{order} gives an error when I try to print it.",
         "cannot print the return label for order #{order}",
         "Hi {first},\n\nthanks for letting us know, I'll create a new one for you.",
         "Hi {first},\n\na new return label is attached, it should print fine now.",
         "How to return an item"),
    ),
    "Account & login": (
        ("Can't log in",
         "Hi, I can't sign in to my account anymore, it says the password is wrong but I'm sure it is "
         "right.\n\n{first}",
         "cannot sign in to the account",
         "Hi {first},\n\nplease try resetting your password; the steps are in “{article}”.",
         "Hi {first},\n\ngreat to hear it works again after the reset!",
         "Resetting your password"),
        ("Password reset email not arriving",
         "I've requested a password reset three times and no email arrives. Help!",
         "password reset email does not arrive",
         "Hi {first},\n\ncould you check your spam folder? Company mail servers sometimes hold our emails.",
         "Hi {first},\n\nyour mail server had blocked our address; after your IT team allowed it the reset "
         "email arrived.",
         "Emails from us land in spam"),
        ("Add a colleague to our account",
         "Hello,\n\nhow can my colleague see our orders and invoices? She needs her own login.\n\nThanks, {first}",
         "wants a colleague added to the business account",
         "Hi {first},\n\nyou can invite her yourself under Account → Team, see “{article}”.",
         "Hi {first},\n\nyour colleague's invitation is accepted and she now sees the company's orders.",
         "Adding colleagues to your business account"),
        ("Please delete my account",
         "Please delete my account and all my personal data.",
         "asks to delete the account and personal data",
         "Hi {first},\n\nwe're sorry to see you go. Could you confirm from the email address of the account?",
         "Hi {first},\n\nyour account is deleted; we keep only the invoices the law requires us to keep.",
         "Deleting your account and your data"),
    ),
    "Technical issue": (
        ("Error at checkout",
         "When I click “Pay now” I get an error page. I tried twice. Screenshot attached.",
         "error page at checkout",
         "Hi {first},\n\nthanks for the screenshot, we're looking into it. Could you tell us which browser "
         "you use?",
         "Hi {first},\n\nthe error came from an ad blocker; with it switched off for our site the checkout "
         "works. We've added a note to “{article}”.",
         "Checkout shows an error"),
        ("Customer portal does not load",
         "The portal shows a blank page since this morning, both in Chrome and Edge.",
         "customer portal shows a blank page",
         "Hi {first},\n\nthanks, we're checking. Are you on your company network?",
         "Hi {first},\n\nyour company firewall blocked our new domain; your IT team has allowed it and the "
         "portal loads again.",
         "The customer portal does not load"),
        ("Order confirmation emails missing",
         "We don't receive order confirmations anymore. Last order was #{order}.",
         "no order confirmation emails",
         "Hi {first},\n\nour logs show the emails were sent. Could you check your spam folder?",
         "Hi {first},\n\nthe emails were in the spam folder; “{article}” shows how to keep them out.",
         "Emails from us land in spam"),
        ("Stock shown wrongly on the website",
         "The website says {product} is in stock but the order was then cancelled as out of stock.",
         "stock level of {product} shown wrongly",
         "Hi {first},\n\nsorry about that, I've passed it to our web team.",
         "Hi {first},\n\nthe stock sync is fixed and {product} is back in stock; we've reserved one for you.",
         None),
    ),
    "Product question": (
        ("Is {product} available in bulk?",
         "Hello,\n\nwe'd like 40 units of {product} for our new office. Do you have trade prices?\n\n{first}",
         "asks for 40 units of {product} at trade prices",
         "Hi {first},\n\nyes, from 25 units we offer trade prices. I'll send you a quote.",
         "Hi {first},\n\nthe quote is attached, valid for 30 days.",
         "Bulk orders and trade prices"),
        ("Care instructions for {product}",
         "How should I clean {product}? I couldn't find instructions in the box.",
         "asks how to care for {product}",
         "Hi {first},\n\ngood question! The care instructions are attached.",
         "Hi {first},\n\ngood question! The care instructions are attached.",
         None),
        ("Spare parts for {product}",
         "Hi, do you sell spare parts for {product}? One piece broke after two years.",
         "needs a spare part for {product}",
         "Hi {first},\n\nlet me check with the manufacturer which part you need.",
         "Hi {first},\n\nthe manufacturer sends the spare part free of charge; it should reach you within "
         "a week.",
         None),
        ("When is {product} back in stock?",
         "Hello, {product} has been out of stock for weeks. When will it be back?",
         "asks when {product} is back in stock",
         "Hi {first},\n\nwe're expecting a delivery soon; I'll let you know the date.",
         "Hi {first},\n\n{product} is back in stock as of today.",
         None),
    ),
    "Feedback": (
        ("Thank you for the quick help",
         "Just wanted to say thanks to your team for the quick help last week. Great service!",
         "thanks the team for last week's help",
         "Hi {first},\n\nthank you, that's lovely to hear! I've passed it on to the team.",
         "Hi {first},\n\nthank you, that's lovely to hear! I've passed it on to the team.",
         None),
        ("Suggestion for the website",
         "It would be great to filter the shop by delivery time. Just an idea!",
         "suggests a delivery-time filter in the shop",
         "Hi {first},\n\nthanks for the idea, I've shared it with our web team.",
         "Hi {first},\n\nthanks for the idea, I've shared it with our web team.",
         None),
        ("Unhappy with the delivery",
         "The courier left the parcel in the rain by the front door. This is not acceptable.",
         "unhappy that the courier left the parcel outside",
         "Hi {first},\n\nI'm really sorry. I've reported it to the courier.",
         "Hi {first},\n\nthe courier has apologised and noted a safe place for future deliveries. As a "
         "thank-you for your patience, your next delivery is free.",
         None),
    ),
}
CUSTOMER_FOLLOW_UPS = (
    "Thanks for the quick reply. Here is the information you asked for.",
    "Any news on this? We are still waiting.",
    "I've attached a photo, hope that helps.",
    "The order number is #{order}.",
    "Thanks, I'll wait for your answer then.",
    "Sorry for the late reply, I was away. Yes, please go ahead.",
)
CUSTOMER_THANKS = ("Thank you, that solved it!", "Great, thanks a lot.", "Perfect, thank you for your help.",
                   "Received, all good now. Thanks!")
CUSTOMER_REOPENS = ("Unfortunately the problem is back.", "Sorry, this is still not working for me.",
                    "I still haven't received anything, can you check again?")
TEAM_ASKS = ("Hi {first},\n\ncould you send us a photo and the order number so we can check?",
             "Hi {first},\n\nwe need a little more information: which browser and device do you use?",
             "Hi {first},\n\ncould you confirm the delivery address for us?",
             "Hi {first},\n\nhas this happened again since? If not, we'll close the ticket in a few days.")
INTERNAL_NOTES = ("Checked the warehouse system: the parcel left on time.", "Escalated to the supplier, waiting "
                  "for their answer.", "Long-standing customer, please handle with priority.",
                  "Refund approved by accounting.", "Same question as last month, see the earlier ticket.",
                  "Called the customer back, no answer; left a voicemail.", "Courier enquiry opened (ref. 48213).")
ON_HOLD_NOTES = ("On hold: waiting for the supplier to confirm the replacement part.",
                 "On hold until the courier's investigation is closed.",
                 "On hold: the web team is working on a fix.")
PHONE_PREFIX = {"phone": "Phone call with {caller}: {summary}.",
                "walk-in": "At the counter, {caller}: {summary}."}
CSAT_COMMENTS = {
    5: ("Fast and friendly, thank you!", "Excellent service.", "Problem solved within the hour, great.",
        "Very helpful, as always."),
    4: ("Good help, took a little while.", "Solved, thanks.", "Friendly team."),
    3: ("OK in the end, but I had to ask twice.", "It took longer than expected."),
    2: ("Slow answers.", "Had to explain the problem three times."),
    1: ("Nobody answered for days.", "Still not happy with how this was handled."),
}
