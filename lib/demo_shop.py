"""The demo shop's catalogue (used by `lib.demo`): Harbour & Co sells home, kitchen and office
goods (the products the demo tickets talk about) to trade accounts and to private customers.
Data only, no logic.
"""

from __future__ import annotations

# category -> (SKU prefix, cost as a share of the price, affinity of trade accounts, of private
# customers: how much more or less often each buys from the category)
CATEGORIES: dict[str, tuple[str, float, float, float]] = {
    "Furniture": ("FUR", 0.55, 1.5, 0.6),
    "Lighting": ("LGT", 0.45, 1.0, 1.0),
    "Kitchen": ("KIT", 0.48, 0.6, 1.5),
    "Coffee & tea": ("COF", 0.40, 1.3, 1.2),
    "Textiles": ("TEX", 0.42, 0.4, 1.5),
    "Office supplies": ("OFF", 0.50, 2.5, 0.3),
    "Bags & accessories": ("BAG", 0.45, 0.5, 1.2),
    "Home & decor": ("HOM", 0.40, 0.6, 1.4),
    "Gifts": ("GFT", 0.00, 0.6, 1.0),
}

# (category, name, list price in EUR, popularity 1..10, consumable: bought again and in quantity)
PRODUCTS: tuple[tuple[str, str, float, int, bool], ...] = (
    ("Furniture", "Oak standing desk", 649.00, 4, False),
    ("Furniture", "Walnut bookshelf", 389.00, 2, False),
    ("Furniture", "Office chair", 279.00, 4, False),
    ("Furniture", "Ergonomic office chair", 449.00, 2, False),
    ("Furniture", "Oak side table", 149.00, 2, False),
    ("Furniture", "Bar stool", 119.00, 2, False),
    ("Furniture", "Filing cabinet", 189.00, 1, False),
    ("Furniture", "Coat rack", 79.00, 2, False),
    ("Furniture", "Meeting table", 899.00, 1, False),
    ("Furniture", "Shoe bench", 129.00, 1, False),
    ("Lighting", "Desk lamp", 59.90, 6, False),
    ("Lighting", "LED floor lamp", 139.00, 3, False),
    ("Lighting", "Pendant light", 99.00, 2, False),
    ("Lighting", "Reading lamp", 49.90, 3, False),
    ("Lighting", "Brass wall light", 89.00, 1, False),
    ("Lighting", "LED bulbs (4 pack)", 19.90, 5, True),
    ("Lighting", "Table lamp with linen shade", 69.00, 2, False),
    ("Lighting", "String lights", 24.90, 3, False),
    ("Lighting", "Clip-on light", 29.90, 1, False),
    ("Kitchen", "Cast-iron pan", 69.00, 6, False),
    ("Kitchen", "Pan scraper", 6.50, 2, False),
    ("Kitchen", "Chef's knife", 89.00, 4, False),
    ("Kitchen", "Knife sharpener", 29.00, 2, False),
    ("Kitchen", "Oak chopping board", 39.00, 4, False),
    ("Kitchen", "Stainless saucepan set", 149.00, 2, False),
    ("Kitchen", "Dutch oven", 119.00, 2, False),
    ("Kitchen", "Silicone utensil set", 24.90, 3, False),
    ("Kitchen", "Kitchen scale", 34.90, 2, False),
    ("Kitchen", "Linen apron", 22.00, 2, False),
    ("Coffee & tea", "Espresso grinder", 189.00, 4, False),
    ("Coffee & tea", "Espresso machine", 549.00, 2, False),
    ("Coffee & tea", "Coffee beans, house blend (1 kg)", 24.00, 9, True),
    ("Coffee & tea", "Coffee beans, decaf (1 kg)", 26.00, 3, True),
    ("Coffee & tea", "Milk jug", 19.00, 2, False),
    ("Coffee & tea", "Ceramic mug set (4)", 34.00, 5, False),
    ("Coffee & tea", "Tea selection box", 18.00, 5, True),
    ("Coffee & tea", "Glass teapot", 29.00, 2, False),
    ("Coffee & tea", "Coffee filter papers (100)", 4.90, 4, True),
    ("Coffee & tea", "Descaler", 8.90, 2, True),
    ("Coffee & tea", "Travel mug", 22.00, 3, False),
    ("Textiles", "Linen tablecloth", 59.00, 4, False),
    ("Textiles", "Linen napkins (4)", 24.00, 3, False),
    ("Textiles", "Wool throw", 89.00, 4, False),
    ("Textiles", "Cushion cover", 25.00, 5, False),
    ("Textiles", "Cushion insert", 12.00, 1, False),
    ("Textiles", "Tea towels (3)", 15.00, 4, True),
    ("Textiles", "Bath towel", 29.00, 3, False),
    ("Textiles", "Hand towel", 15.00, 2, False),
    ("Textiles", "Cotton bedding set", 119.00, 2, False),
    ("Office supplies", "Printer paper (5 boxes)", 34.00, 8, True),
    ("Office supplies", "Toner cartridge", 79.00, 4, True),
    ("Office supplies", "Notebook A5", 8.90, 5, True),
    ("Office supplies", "Ballpoint pens (10)", 7.90, 5, True),
    ("Office supplies", "Desk organiser", 29.00, 2, False),
    ("Office supplies", "Desk mat", 39.00, 3, False),
    ("Office supplies", "Monitor stand", 49.00, 3, False),
    ("Office supplies", "Cable tidy", 12.00, 2, False),
    ("Office supplies", "Stapler", 14.90, 2, False),
    ("Office supplies", "Whiteboard", 69.00, 2, False),
    ("Office supplies", "Whiteboard markers (4)", 6.90, 2, True),
    ("Office supplies", "Label printer", 89.00, 2, False),
    ("Office supplies", "Label tape", 13.90, 1, True),
    ("Bags & accessories", "Harbour tote bag", 19.00, 6, False),
    ("Bags & accessories", "Canvas backpack", 79.00, 3, False),
    ("Bags & accessories", "Laptop sleeve", 39.00, 3, False),
    ("Bags & accessories", "Leather wallet", 49.00, 2, False),
    ("Bags & accessories", "Weekender bag", 149.00, 1, False),
    ("Bags & accessories", "Umbrella", 29.00, 3, False),
    ("Bags & accessories", "Water bottle", 24.00, 4, False),
    ("Bags & accessories", "Lunch box", 22.00, 2, False),
    ("Home & decor", "Scented candle", 19.00, 6, True),
    ("Home & decor", "Candle holder", 15.00, 2, False),
    ("Home & decor", "Ceramic vase", 39.00, 3, False),
    ("Home & decor", "Plant pot", 25.00, 4, False),
    ("Home & decor", "Picture frame", 22.00, 3, False),
    ("Home & decor", "Wall clock", 45.00, 2, False),
    ("Home & decor", "Doormat", 29.00, 2, False),
    ("Home & decor", "Storage basket", 35.00, 3, False),
    ("Home & decor", "Wall mirror", 99.00, 1, False),
    ("Gifts", "Gift card 25", 25.00, 3, False),
    ("Gifts", "Gift card 50", 50.00, 3, False),
    ("Gifts", "Gift card 100", 100.00, 2, False),
    ("Gifts", "Gift wrapping", 4.00, 2, False),
)

# What is bought together: product -> (partner, chance the partner joins the order).
BUNDLES: dict[str, tuple[tuple[str, float], ...]] = {
    "Cast-iron pan": (("Pan scraper", 0.65),),
    "Espresso grinder": (("Coffee beans, house blend (1 kg)", 0.7),),
    "Espresso machine": (("Espresso grinder", 0.45), ("Milk jug", 0.5), ("Descaler", 0.3)),
    "Chef's knife": (("Knife sharpener", 0.45), ("Oak chopping board", 0.4)),
    "Oak standing desk": (("Desk lamp", 0.45), ("Desk mat", 0.35), ("Monitor stand", 0.3)),
    "Office chair": (("Desk mat", 0.3),),
    "Linen tablecloth": (("Linen napkins (4)", 0.6),),
    "Cushion cover": (("Cushion insert", 0.7),),
    "Bath towel": (("Hand towel", 0.6),),
    "Scented candle": (("Candle holder", 0.45),),
    "Printer paper (5 boxes)": (("Toner cartridge", 0.3),),
    "Whiteboard": (("Whiteboard markers (4)", 0.8),),
    "Label printer": (("Label tape", 0.85),),
    "Coffee beans, house blend (1 kg)": (("Coffee filter papers (100)", 0.25),),
    "Ceramic mug set (4)": (("Tea selection box", 0.3),),
    "Gift card 50": (("Gift wrapping", 0.3),),
    "Wool throw": (("Cushion cover", 0.3),),
}

# Products bought as presents: private customers add them to a December order.
GIFT_SEASON = ("Scented candle", "Wool throw", "Gift card 25", "Gift card 50", "Gift card 100", "Ceramic mug set (4)",
               "Leather wallet", "Tea selection box", "String lights", "Harbour tote bag", "Picture frame")

# VAT charged on invoices by the customer's country (exports outside the EU and the UK: none).
TAX_RATES = {"GB": 20, "DE": 19, "FR": 20, "NL": 21, "ES": 21, "IT": 22, "IE": 23, "BE": 21, "SE": 25, "PT": 23,
             "AT": 20, "DK": 25, "PL": 23}
# Prices for UK trade accounts, who are invoiced in pounds: euros × this, ending in .99.
GBP_RATE = 0.86

# The description of a return line: "{product} – {note}".
RETURN_NOTES = ("returned, arrived damaged", "returned, wrong colour", "returned, ordered twice by mistake",
                "returned within 30 days, unused")
ORDER_NOTES = ("Deliver to the back entrance.", "Call before delivery.", "Gift: no prices on the delivery note.",
               "Leave with the neighbour if nobody is in.", "Invoice to the accounts department.")
