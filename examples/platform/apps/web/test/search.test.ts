import assert from "node:assert/strict";
import { test } from "node:test";

import { search } from "../src/search.js";

const listings = [
  { id: 1, title: "A", city: "Utrecht", price: 300, bedrooms: 2 },
  { id: 2, title: "B", city: "Leiden", price: 200, bedrooms: 3 },
  { id: 3, title: "C", city: "utrecht", price: 100, bedrooms: 1 },
];

test("filters by city, case-insensitively, cheapest first", () => {
  assert.deepEqual(
    search(listings, { city: "Utrecht" }).map((l) => l.id),
    [3, 1],
  );
});

test("filters by price and bedrooms", () => {
  assert.deepEqual(
    search(listings, { maxPrice: 250, minBedrooms: 2 }).map((l) => l.id),
    [2],
  );
});
