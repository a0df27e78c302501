import unittest

from slug import slugify


class SlugTest(unittest.TestCase):
    def test_spaces_become_hyphens(self):
        self.assertEqual(slugify("Hello World"), "hello-world")

    def test_punctuation_dropped(self):
        self.assertEqual(slugify("Rust, fast!"), "rust-fast")

    def test_single_word(self):
        self.assertEqual(slugify("Proof"), "proof")


if __name__ == "__main__":
    unittest.main()
