"""Order lines keep the product's Chinese name too (copied at order time, like the English one),
so what a Chinese-speaking shopper reads about an order is in Chinese. Existing lines take it
from their product when the product still exists; the others keep showing the English copy."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def backfill(apps, schema_editor):
    OrderLine = apps.get_model("checkout", "OrderLine")
    Product = apps.get_model("checkout", "Product")
    OrderLine.objects.filter(product__isnull=False, name_zh="").update(
        name_zh=Subquery(Product.objects.filter(pk=OuterRef("product_id")).values("name_zh")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [("checkout", "0002_order_event")]

    operations = [
        migrations.AddField(
            model_name="orderline",
            name="name_zh",
            field=models.CharField(
                blank=True, default="", max_length=120, verbose_name="name (Chinese)"
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
