/** Client-side filtering of listings fetched from the api. */

import type { Listing } from "./format.js";

export interface Filter {
  city?: string;
  maxPrice?: number;
  minBedrooms?: number;
}

export function matches(listing: Listing, filter: Filter): boolean {
  if (filter.city && listing.city.toLowerCase() !== filter.city.toLowerCase()) return false;
  if (filter.maxPrice !== undefined && listing.price > filter.maxPrice) return false;
  if (filter.minBedrooms !== undefined && listing.bedrooms < filter.minBedrooms) return false;
  return true;
}

export function search(listings: Listing[], filter: Filter): Listing[] {
  return listings.filter((l) => matches(l, filter)).sort((a, b) => a.price - b.price);
}
