//! The benchmark corpus: deterministic short notes; half carry structured identifiers
//! (card and e-mail, SSN, phone and date, IP addresses and URL), one in six a weekday.

/// Notes in the style of support tickets and HR/IT logs.
pub const TEMPLATES: [&str; 6] = [
    "Customer called about the delayed order and asked for a refund by Friday.",
    "Reimburse to card 4111 1111 1111 1111; receipt sent from jane.doe@example.com.",
    "Meeting moved to the third floor; bring the printed agenda and the budget sheet.",
    "New hire paperwork: SSN 536-22-1234, phone (212) 555-0123, start 2024-03-12.",
    "The shipment left the warehouse this morning and should arrive within five days.",
    "Server 10.0.0.12 rejected the login from 2001:db8::1; see https://status.example.com.",
];

/// 2,000 notes (about 168 KB), each template followed by a running number.
pub fn notes() -> Vec<String> {
    (0..2000)
        .map(|i| format!("{} #{i}", TEMPLATES[i % TEMPLATES.len()]))
        .collect()
}
