// The registration throttle of /oauth/register: a fixed window per client address, so one address's
// flood neither fills the clients table nor locks out another address.
import { describe, expect, test } from "bun:test";
import { AddressThrottle } from "../../src/http/oauth/throttle.ts";

describe("AddressThrottle", () => {
  test("allows the limit per window, then says how long to wait", () => {
    const throttle = new AddressThrottle(3, 60_000);
    const t0 = 1_000_000;
    expect([throttle.take("10.0.0.1", t0), throttle.take("10.0.0.1", t0 + 1), throttle.take("10.0.0.1", t0 + 2)]).toEqual([0, 0, 0]);
    expect(throttle.take("10.0.0.1", t0 + 10_000)).toBe(50_000);
  });

  test("another address has its own count", () => {
    const throttle = new AddressThrottle(1, 60_000);
    expect(throttle.take("10.0.0.1", 0)).toBe(0);
    expect(throttle.take("10.0.0.1", 1)).toBeGreaterThan(0);
    expect(throttle.take("10.0.0.2", 1)).toBe(0);
  });

  test("a new window starts when the old one ends", () => {
    const throttle = new AddressThrottle(1, 60_000);
    expect(throttle.take("10.0.0.1", 0)).toBe(0);
    expect(throttle.take("10.0.0.1", 59_999)).toBe(1);
    expect(throttle.take("10.0.0.1", 60_000)).toBe(0);
  });

  test("a refused attempt does not extend the wait", () => {
    const throttle = new AddressThrottle(1, 60_000);
    throttle.take("10.0.0.1", 0);
    for (let i = 1; i < 100; i++) throttle.take("10.0.0.1", i * 100);
    expect(throttle.take("10.0.0.1", 60_000)).toBe(0);
  });

  test("one IPv6 /64 (one subscriber) shares one budget; an IPv4 address in IPv6 form is that IPv4 address", () => {
    const throttle = new AddressThrottle(30, 3_600_000);
    let refused = 0;
    for (let i = 0; i < 1000; i++) if (throttle.take(`2001:db8:1:2::${i.toString(16)}`, 0) > 0) refused++;
    expect(refused).toBe(970);
    expect(throttle.take("2001:db8:1:3::1", 0)).toBe(0);
    const v4 = new AddressThrottle(1, 60_000);
    expect(v4.take("192.0.2.7", 0)).toBe(0);
    expect(v4.take("::ffff:192.0.2.7", 1)).toBeGreaterThan(0);
  });

  test("a flood of distinct clients keeps the map bounded, forgetting the oldest first", () => {
    const throttle = new AddressThrottle(1, 3_600_000);
    for (let i = 0; i < 25_000; i++) throttle.take(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, i);
    expect(throttle.size).toBe(10_000);
    // The newest are still counted; the oldest were forgotten.
    expect(throttle.take("10.0.97.167", 25_000)).toBeGreaterThan(0); // i = 24999
    expect(throttle.take("10.0.0.0", 25_001)).toBe(0);
  });
});
