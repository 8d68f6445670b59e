"""A trivial test for Django's test runner: `manage.py test` creates the database test_<NAME>
from scratch and migrates it, which is what pg_test/django_test.sh checks under the guard
(a fresh database: every table empty while its migrations run)."""
from datetime import datetime, timezone

from django.test import TestCase

from .models import Order


class OrderTest(TestCase):
    def test_save_and_read(self):
        Order.objects.create(
            customer="alice", quantity=2**40, status="new", note="test",
            created_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
        )
        order = Order.objects.get(customer="alice")
        self.assertEqual(order.quantity, 2**40)
        self.assertEqual(order.status, "new")
