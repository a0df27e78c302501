import unittest

from stats import median


class MedianTest(unittest.TestCase):
    def test_sorted_odd(self):
        self.assertEqual(median([1, 2, 3]), 2)

    def test_unsorted_odd(self):
        self.assertEqual(median([3, 1, 2]), 2)

    def test_unsorted_even(self):
        self.assertEqual(median([4, 1, 3, 2]), 2.5)

    def test_empty(self):
        with self.assertRaises(ValueError):
            median([])


if __name__ == "__main__":
    unittest.main()
