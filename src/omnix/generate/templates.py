"""Grocery catalog templates: items, pack sizes, variants and (fictional) brands.

Each item gives a list price for its smallest pack at the standard tier and how many
days a typical household takes to use up that pack (`cycle`). `catalog.py` crosses
items with packs, variants and brands to make products.
"""

from __future__ import annotations

from dataclasses import dataclass

BUDGET, STANDARD, PREMIUM = 0, 1, 2
TIER_NAMES = ("budget", "standard", "premium")

# Aisle order: a receipt lists lines in the order a shopper walks the store.
CATEGORIES = (
    "produce", "bakery", "dairy", "meat & fish", "frozen", "pantry", "snacks",
    "beverages", "household", "personal care", "baby", "pet", "specialty", "seasonal",
)  # fmt: skip
# Categories never in a repertoire: bought on impulse or in season only.
IMPULSE_ONLY = frozenset({"specialty", "seasonal"})
BABY, PET = "baby", "pet"

Pack = tuple[str, float]  # label, amount in the item's natural unit (kg, L or pieces)
# Fresh and pantry items without flavours also come as an organic line.
_ORGANIC = frozenset({"produce", "bakery", "dairy", "meat & fish", "frozen", "pantry"})


@dataclass(frozen=True, slots=True)
class Item:
    category: str
    name: str
    price: float  # standard tier, smallest pack, list price
    cycle: float  # days a typical household uses up the smallest pack
    popularity: float
    packs: tuple[Pack, ...]
    variants: tuple[str, ...] = ("",)
    brands: tuple[tuple[str, int], ...] = ()  # replaces the category's own brands
    months: tuple[int, ...] = ()  # seasonal items: months on sale


STORE_BRANDS = (("Everyday Basics", BUDGET), ("Omni", STANDARD), ("Omni Finest", PREMIUM))

BRANDS: dict[str, tuple[tuple[str, int], ...]] = {
    "produce": (("Sunny Fields", BUDGET), ("Green Valley", STANDARD), ("Orchard Fresh", STANDARD),
                ("Terra Verde", STANDARD), ("Bio Harvest", PREMIUM), ("Demeter Hof", PREMIUM)),
    "bakery": (("Bakehouse", BUDGET), ("Golden Crust", STANDARD), ("Brotzeit", STANDARD),
               ("Kornblume", STANDARD), ("Mill & Stone", PREMIUM), ("Le Fournil", PREMIUM)),
    "dairy": (("Dairy Farm", BUDGET), ("Milkwood", BUDGET), ("Meadowvale", STANDARD),
              ("Oaklands", STANDARD), ("Weidegold", STANDARD), ("Alpenhof", PREMIUM)),
    "meat & fish": (("Farmer Joe", BUDGET), ("Butcher's Choice", STANDARD),
                    ("Nordsee", STANDARD), ("Atlantic Catch", STANDARD),
                    ("Highland Farms", PREMIUM), ("Landmetzger", PREMIUM)),
    "frozen": (("Frostfield", BUDGET), ("Polar", STANDARD), ("Iceberg", STANDARD),
               ("Chef's Freezer", STANDARD), ("Gelato Nobile", PREMIUM)),
    "pantry": (("Golden Field", BUDGET), ("Harvest Gold", BUDGET), ("Casa Rossa", STANDARD),
               ("Pasta Nonna", STANDARD), ("Spice Route", STANDARD), ("Olivia", PREMIUM)),
    "snacks": (("Snackbox", BUDGET), ("Sweet Tooth", BUDGET), ("Crunchy", STANDARD),
               ("Choco Loco", STANDARD), ("Munchies", STANDARD), ("Nutty Co", PREMIUM)),
    "beverages": (("Fizz", BUDGET), ("Fresh Squeeze", STANDARD), ("Alpine Springs", STANDARD),
                  ("Quellgrund", STANDARD), ("Citrus Grove", PREMIUM)),
    "household": (("CleanMax", BUDGET), ("Homely", BUDGET), ("Sparkle", STANDARD),
                  ("Brite", STANDARD), ("Frischluft", STANDARD), ("EcoHome", PREMIUM)),
    "personal care": (("Fresh Day", BUDGET), ("Pure Care", STANDARD), ("Velvet", STANDARD),
                      ("Aqua Vita", STANDARD), ("Botanica", PREMIUM), ("Dermaline", PREMIUM)),
    "baby": (("Bambino", BUDGET), ("Little Ones", STANDARD), ("Kindergold", STANDARD),
             ("Tiny Steps", PREMIUM)),
    "pet": (("Purrfect", BUDGET), ("Happy Paws", STANDARD), ("Feline Fine", STANDARD),
            ("Wild Pack", PREMIUM), ("Canine Club", PREMIUM)),
    "specialty": (("Gourmet Atelier", PREMIUM), ("Deli Select", PREMIUM)),
    "seasonal": (("Festive Kitchen", PREMIUM), ("Winterzauber", STANDARD)),
}  # fmt: skip

_COFFEE = (
    ("Café Solo", BUDGET), ("Kaffee Haus", STANDARD), ("Bohnenglück", STANDARD),
    ("Roastery 1890", PREMIUM), *STORE_BRANDS,
)  # fmt: skip
_BEER = (
    ("Everyday Basics", BUDGET), ("Brewmaster", STANDARD), ("Hopfenkönig", STANDARD),
    ("Klosterbräu", PREMIUM),
)  # fmt: skip
_WINE = (
    ("Everyday Basics", BUDGET), ("Vina Sol", STANDARD), ("Bodega Roja", STANDARD),
    ("Château Lune", PREMIUM),
)  # fmt: skip


def _i(
    category: str,
    name: str,
    price: float,
    cycle: float,
    popularity: float,
    packs: tuple[Pack, ...],
    variants: tuple[str, ...] = ("",),
    brands: tuple[tuple[str, int], ...] = (),
    months: tuple[int, ...] = (),
) -> Item:
    if variants == ("",) and category in _ORGANIC:
        variants = ("", "Organic")
    return Item(category, name, price, cycle, popularity, packs, variants, brands, months)


# fmt: off
ITEMS: tuple[Item, ...] = (
    _i("produce", "Bananas", 1.49, 6, 9, (("1kg", 1.0),)),
    _i("produce", "Apples", 2.49, 8, 7, (("1kg", 1.0), ("2kg", 2.0)), ("Gala", "Braeburn")),
    _i("produce", "Tomatoes", 1.99, 6, 6, (("500g", 0.5), ("1kg", 1.0))),
    _i("produce", "Potatoes", 2.99, 14, 6, (("2.5kg", 2.5), ("5kg", 5.0))),
    _i("produce", "Carrots", 1.19, 10, 5, (("1kg", 1.0),)),
    _i("produce", "Onions", 1.29, 14, 5, (("1kg", 1.0), ("2kg", 2.0))),
    _i("produce", "Mixed Salad", 1.49, 5, 4, (("150g", 0.15),)),
    _i("produce", "Avocados", 2.49, 8, 4, (("2 pack", 2.0), ("4 pack", 4.0))),
    _i("produce", "Oranges", 2.99, 9, 4, (("1.5kg", 1.5),)),
    _i("produce", "Strawberries", 2.99, 7, 3, (("400g", 0.4),)),
    _i("produce", "Cucumber", 0.79, 5, 4, (("1 pc", 1.0),)),
    _i("produce", "Bell Peppers", 1.99, 7, 4, (("3 pack", 3.0),)),
    _i("produce", "Lemons", 1.49, 14, 3, (("4 pack", 4.0),)),
    _i("produce", "Grapes", 2.79, 7, 3, (("500g", 0.5),), ("Red", "White")),
    _i("produce", "Broccoli", 1.29, 7, 3, (("500g", 0.5),)),
    _i("produce", "Mushrooms", 1.59, 7, 3, (("250g", 0.25),)),
    _i("bakery", "White Bread", 1.29, 4, 9, (("800g", 0.8),)),
    _i("bakery", "Wholemeal Bread", 1.49, 4, 7, (("800g", 0.8),)),
    _i("bakery", "Sourdough Loaf", 3.29, 5, 3, (("750g", 0.75),)),
    _i("bakery", "Croissants", 2.49, 7, 4, (("4 pack", 4.0),)),
    _i("bakery", "Bagels", 1.99, 8, 3, (("5 pack", 5.0),), ("Plain", "Sesame")),
    _i("bakery", "Baguette", 0.99, 3, 5, (("250g", 0.25),)),
    _i("bakery", "Bread Rolls", 1.49, 5, 5, (("6 pack", 6.0),)),
    _i("bakery", "Blueberry Muffins", 2.29, 10, 2, (("4 pack", 4.0),)),
    _i("dairy", "Whole Milk", 1.09, 4, 10, (("1L", 1.0), ("2L", 2.0))),
    _i("dairy", "Semi-Skimmed Milk", 1.05, 4, 9, (("1L", 1.0), ("2L", 2.0))),
    _i("dairy", "Oat Drink", 1.89, 6, 4, (("1L", 1.0),)),
    _i("dairy", "Greek Yogurt", 2.29, 6, 6, (("500g", 0.5),), ("Plain", "Honey", "Strawberry")),
    _i("dairy", "Butter", 2.49, 14, 8, (("250g", 0.25),), ("Salted", "Unsalted")),
    _i("dairy", "Cheddar Cheese", 2.79, 10, 7, (("200g", 0.2), ("400g", 0.4))),
    _i("dairy", "Gouda Slices", 1.99, 8, 5, (("150g", 0.15),)),
    _i("dairy", "Mozzarella", 0.99, 10, 5, (("125g", 0.125),)),
    _i("dairy", "Free Range Eggs", 2.19, 8, 8, (("6 pack", 6.0), ("12 pack", 12.0))),
    _i("dairy", "Cream Cheese", 1.49, 12, 4, (("200g", 0.2),)),
    _i("dairy", "Skyr", 1.79, 6, 3, (("450g", 0.45),)),
    _i("dairy", "Hummus", 1.49, 7, 3, (("200g", 0.2),)),
    _i("dairy", "Double Cream", 1.19, 14, 3, (("200ml", 0.2),)),
    _i("meat & fish", "Chicken Breast", 5.49, 8, 7, (("500g", 0.5), ("1kg", 1.0))),
    _i("meat & fish", "Minced Beef", 4.99, 9, 6, (("500g", 0.5),)),
    _i("meat & fish", "Pork Sausages", 3.49, 12, 5, (("400g", 0.4),)),
    _i("meat & fish", "Smoked Bacon", 2.79, 12, 5, (("200g", 0.2),)),
    _i("meat & fish", "Salmon Fillets", 5.99, 14, 4, (("250g", 0.25),)),
    _i("meat & fish", "Cooked Ham Slices", 1.99, 7, 6, (("150g", 0.15),)),
    _i("meat & fish", "Salami", 2.29, 12, 3, (("100g", 0.1),)),
    _i("frozen", "Frozen Pizza", 2.99, 10, 5, (("350g", 0.35),), ("Margherita", "Pepperoni")),
    _i("frozen", "Frozen Peas", 1.79, 20, 4, (("1kg", 1.0),)),
    _i("frozen", "Ice Cream", 3.49, 14, 4, (("1L", 1.0),), ("Vanilla", "Chocolate")),
    _i("frozen", "Fish Fingers", 2.49, 14, 4, (("10 pack", 10.0),)),
    _i("frozen", "Frozen Berries", 3.29, 20, 3, (("500g", 0.5),)),
    _i("frozen", "Oven Chips", 2.19, 14, 4, (("1kg", 1.0),)),
    _i("pantry", "Spaghetti", 0.99, 10, 7, (("500g", 0.5), ("1kg", 1.0))),
    _i("pantry", "Penne", 0.99, 12, 5, (("500g", 0.5),)),
    _i("pantry", "Basmati Rice", 2.49, 20, 6, (("1kg", 1.0),)),
    _i("pantry", "Extra Virgin Olive Oil", 6.99, 40, 5, (("750ml", 0.75),)),
    _i("pantry", "Sunflower Oil", 2.49, 40, 3, (("1L", 1.0),)),
    _i("pantry", "Tomato Passata", 0.89, 10, 5, (("500g", 0.5),)),
    _i("pantry", "Chopped Tomatoes", 0.69, 10, 5, (("400g", 0.4),)),
    _i("pantry", "Cornflakes", 2.49, 14, 5, (("500g", 0.5),)),
    _i("pantry", "Muesli", 3.29, 18, 4, (("750g", 0.75),), ("Fruit", "Nut")),
    _i("pantry", "Plain Flour", 0.89, 30, 3, (("1kg", 1.0),)),
    _i("pantry", "White Sugar", 1.19, 40, 3, (("1kg", 1.0),)),
    _i("pantry", "Peanut Butter", 2.49, 25, 3, (("340g", 0.34),), ("Smooth", "Crunchy")),
    _i("pantry", "Strawberry Jam", 1.99, 25, 3, (("340g", 0.34),)),
    _i("pantry", "Honey", 3.49, 40, 3, (("250g", 0.25),)),
    _i("pantry", "Porridge Oats", 1.29, 14, 4, (("500g", 0.5), ("1kg", 1.0))),
    _i("pantry", "Baked Beans", 0.89, 10, 4, (("415g", 0.415),)),
    _i("snacks", "Potato Crisps", 1.79, 8, 7, (("150g", 0.15),),
       ("Salted", "Paprika", "Sour Cream")),
    _i("snacks", "Chocolate Bar", 1.29, 7, 7, (("100g", 0.1),), ("Milk", "Dark", "Hazelnut")),
    _i("snacks", "Chocolate Chip Cookies", 1.99, 10, 5, (("200g", 0.2),)),
    _i("snacks", "Salted Peanuts", 1.79, 14, 3, (("200g", 0.2),)),
    _i("snacks", "Tortilla Chips", 1.69, 10, 4, (("200g", 0.2),)),
    _i("snacks", "Cereal Bars", 2.49, 10, 4, (("6 pack", 6.0),)),
    _i("snacks", "Rice Cakes", 1.49, 10, 2, (("130g", 0.13),)),
    _i("snacks", "Gummy Bears", 1.19, 12, 3, (("200g", 0.2),)),
    _i("beverages", "Coffee Beans", 6.99, 21, 6, (("500g", 0.5), ("1kg", 1.0)), brands=_COFFEE),
    _i("beverages", "Ground Coffee", 3.99, 14, 6, (("250g", 0.25),), brands=_COFFEE),
    _i("beverages", "Tea Bags", 2.99, 25, 5, (("80 pack", 80.0),),
       ("English Breakfast", "Green", "Earl Grey"), brands=_COFFEE),
    _i("beverages", "Orange Juice", 1.99, 6, 6, (("1L", 1.0), ("1.5L", 1.5))),
    _i("beverages", "Apple Juice", 1.79, 7, 4, (("1L", 1.0), ("1.5L", 1.5))),
    _i("beverages", "Sparkling Water", 2.99, 7, 6, (("6x1.5L", 9.0),)),
    _i("beverages", "Still Water", 2.49, 7, 5, (("6x1.5L", 9.0),)),
    _i("beverages", "Cola", 1.79, 7, 6, (("1.5L", 1.5),), ("Classic", "Zero")),
    _i("beverages", "Energy Drink", 1.29, 5, 3, (("250ml", 0.25),)),
    _i("beverages", "Lager Beer", 5.49, 10, 5, (("6x0.33L", 1.98),), brands=_BEER),
    _i("beverages", "Red Wine", 6.99, 10, 4, (("0.75L", 0.75),), brands=_WINE),
    _i("beverages", "White Wine", 6.49, 10, 4, (("0.75L", 0.75),), brands=_WINE),
    _i("household", "Washing-Up Liquid", 1.49, 30, 5, (("500ml", 0.5), ("1L", 1.0))),
    _i("household", "Laundry Detergent", 7.99, 28, 5, (("2L", 2.0), ("4L", 4.0))),
    _i("household", "Toilet Paper", 4.49, 18, 7, (("9 rolls", 9.0), ("18 rolls", 18.0))),
    _i("household", "Kitchen Towels", 2.99, 21, 5, (("4 rolls", 4.0), ("8 rolls", 8.0))),
    _i("household", "Bin Bags", 2.49, 30, 3, (("20 pack", 20.0), ("40 pack", 40.0))),
    _i("household", "Dishwasher Tablets", 6.99, 35, 4, (("40 pack", 40.0),)),
    _i("household", "All-Purpose Cleaner", 2.29, 40, 3, (("750ml", 0.75),)),
    _i("household", "Paper Tissues", 1.99, 20, 3, (("10 pack", 10.0),)),
    _i("household", "Sponges", 1.49, 40, 2, (("5 pack", 5.0),)),
    _i("personal care", "Shampoo", 2.99, 35, 4, (("250ml", 0.25), ("500ml", 0.5))),
    _i("personal care", "Toothpaste", 1.99, 30, 5, (("75ml", 0.075),)),
    _i("personal care", "Shower Gel", 1.99, 25, 4, (("250ml", 0.25), ("500ml", 0.5))),
    _i("personal care", "Deodorant", 2.79, 30, 3, (("150ml", 0.15),)),
    _i("personal care", "Hand Soap", 1.49, 30, 3, (("250ml", 0.25), ("500ml", 0.5))),
    _i("personal care", "Cotton Pads", 1.29, 30, 2, (("80 pack", 80.0),)),
    _i("personal care", "Razor Blades", 8.99, 45, 2, (("4 pack", 4.0),)),
    _i("baby", "Nappies Size 3", 9.99, 10, 6, (("40 pack", 40.0),)),
    _i("baby", "Baby Wipes", 1.99, 7, 5, (("64 pack", 64.0), ("3x64 pack", 192.0))),
    _i("baby", "Infant Formula", 14.99, 10, 4, (("800g", 0.8),)),
    _i("baby", "Baby Food Pouch", 1.29, 3, 3, (("100g", 0.1),), ("Apple", "Carrot")),
    _i("pet", "Dry Dog Food", 12.99, 25, 5, (("3kg", 3.0), ("10kg", 10.0))),
    _i("pet", "Wet Cat Food", 5.99, 8, 5, (("12x100g", 1.2), ("24x100g", 2.4))),
    _i("pet", "Cat Litter", 4.99, 20, 4, (("10L", 10.0), ("20L", 20.0))),
    _i("pet", "Dog Treats", 3.49, 14, 3, (("200g", 0.2),)),
    _i("specialty", "Truffle Oil", 9.99, 90, 0.3, (("100ml", 0.1),)),
    _i("specialty", "Saffron", 7.99, 90, 0.2, (("1g", 0.001),)),
    _i("specialty", "Manuka Honey", 19.99, 90, 0.3, (("250g", 0.25),)),
    _i("specialty", "Matcha Powder", 12.99, 90, 0.2, (("50g", 0.05),)),
    _i("specialty", "Kimchi", 4.49, 30, 0.4, (("400g", 0.4),)),
    _i("specialty", "Wagyu Burgers", 12.99, 60, 0.2, (("2 pack", 2.0),)),
    _i("specialty", "Aged Balsamic Vinegar", 11.99, 120, 0.2, (("250ml", 0.25),)),
    _i("specialty", "Smoked Oysters", 4.99, 60, 0.2, (("85g", 0.085),)),
    _i("specialty", "Harissa Paste", 3.29, 60, 0.3, (("90g", 0.09),)),
    _i("specialty", "Champagne", 34.99, 120, 0.3, (("0.75L", 0.75),)),
    _i("specialty", "Caviar", 39.99, 180, 0.1, (("50g", 0.05),)),
    _i("specialty", "Artisan Gin", 29.99, 120, 0.2, (("0.7L", 0.7),)),
    _i("specialty", "Dried Porcini", 5.99, 90, 0.2, (("30g", 0.03),)),
    _i("specialty", "Pistachio Cream", 6.49, 60, 0.2, (("200g", 0.2),)),
    _i("specialty", "Kombucha", 2.99, 30, 0.4, (("330ml", 0.33),), ("Ginger", "Berry")),
    _i("seasonal", "Christmas Stollen", 6.99, 30, 3, (("750g", 0.75),), months=(11, 12)),
    _i("seasonal", "Gingerbread Hearts", 2.99, 30, 3, (("250g", 0.25),), months=(11, 12)),
    _i("seasonal", "Mulled Wine", 3.99, 30, 3, (("1L", 1.0),), months=(11, 12)),
    _i("seasonal", "Panettone", 7.99, 30, 2, (("750g", 0.75),), months=(12,)),
    _i("seasonal", "Mince Pies", 2.49, 30, 2, (("6 pack", 6.0),), months=(12,)),
    _i("seasonal", "Chocolate Advent Calendar", 4.99, 30, 2, (("75g", 0.075),),
       months=(10, 11)),
    _i("seasonal", "Chocolate Easter Eggs", 3.49, 30, 3, (("150g", 0.15),), months=(3, 4)),
    _i("seasonal", "Hot Cross Buns", 1.99, 30, 3, (("4 pack", 4.0),), months=(3, 4)),
    _i("seasonal", "White Asparagus", 6.99, 30, 3, (("500g", 0.5),), months=(4, 5, 6)),
    _i("seasonal", "Barbecue Sausages", 4.49, 30, 3, (("600g", 0.6),), months=(6, 7, 8)),
    _i("seasonal", "Charcoal Briquettes", 5.99, 30, 2, (("3kg", 3.0),), months=(5, 6, 7, 8)),
    _i("seasonal", "Pumpkin", 2.49, 30, 2, (("1 pc", 1.0),), months=(10,)),
)
# fmt: on
