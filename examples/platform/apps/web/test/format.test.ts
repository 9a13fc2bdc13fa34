import assert from "node:assert/strict";
import { test } from "node:test";

import { formatPrice, headline } from "../src/format.js";

test("formats whole euros", () => {
  assert.equal(formatPrice(325000), "€325,000");
});

test("rejects negative prices", () => {
  assert.throws(() => formatPrice(-1), RangeError);
});

test("headline names rooms", () => {
  const listing = { id: 1, title: "Flat", city: "Utrecht", price: 1000, bedrooms: 1 };
  assert.equal(headline(listing), "Flat, Utrecht (1 bedroom) €1,000");
  assert.match(headline({ ...listing, bedrooms: 3 }), /3 bedrooms/);
});
