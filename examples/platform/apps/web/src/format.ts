/** Display helpers for listings. */

export interface Listing {
  id: number;
  title: string;
  city: string;
  price: number;
  bedrooms: number;
}

export function formatPrice(amount: number, currency = "EUR"): string {
  if (!Number.isFinite(amount) || amount < 0) {
    throw new RangeError(`price must be a non-negative number, got ${amount}`);
  }
  return new Intl.NumberFormat("en-GB", {
    style: "currency",
    currency,
    maximumFractionDigits: 0,
  }).format(amount);
}

export function headline(listing: Listing): string {
  const rooms = listing.bedrooms === 1 ? "1 bedroom" : `${listing.bedrooms} bedrooms`;
  return `${listing.title}, ${listing.city} (${rooms}) ${formatPrice(listing.price)}`;
}
