from django.db import models


class Order(models.Model):
    """The models as both migration chains leave them (shop/migrations, shop/migrations_unsafe).

    In 0001_initial: quantity was an IntegerField, status was null=True, note was a
    CharField(max_length=200), and there was no index on created_at.
    """

    customer = models.CharField(max_length=100)
    quantity = models.BigIntegerField()
    status = models.CharField(max_length=20)
    note = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["created_at"], name="shop_order_created_at_idx")]
