import unittest

from textstats import longest_word, word_count


class TextStatsTest(unittest.TestCase):
    def test_word_count(self):
        self.assertEqual(word_count("the quick brown fox"), 4)

    def test_longest_word(self):
        self.assertEqual(longest_word("a bb ccc"), "ccc")


if __name__ == "__main__":
    unittest.main()
