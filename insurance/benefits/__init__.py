"""The BHYT benefit engine: who pays what on each charge line (issue 4).

Modules
-------
- `types.py`: the engine's inputs and outputs (frozen dataclasses, no Django).
- `engine.py`: `split_lines(card=, visit=, lines=, params=) -> SplitResult`. Pure: no ORM, no I/O.
- `reasons.py`: stable reason codes and their Vietnamese labels (`reason_label(code)`).
- `defaults.py`: `DEFAULT_PARAMETERS` (the brief's values, UNCONFIRMED ones flagged) and their
  resolution for a date (`params_from_rows`, `default_params`). Pure.
- `parameters.py`: `benefit_params(on=)` from `insurance.BenefitParameter` (database rows win over
  the defaults, cached per date) and `benefit_parameters_load(actor=)` behind
  `manage.py load_benefit_parameters`.

"The brief" below is `shared/domain/vietnam-bhyt.md`; its tags ([text], [impl], [sec],
UNCONFIRMED) are repeated. Every figure is a dated `BenefitParameter` row (key[qualifier]);
rows marked UNCONFIRMED carry `unconfirmed=True` and the current best reading as value.
The engine supports dates from 01/07/2019 (the first base salary the brief lists).

Rules
-----
Visit rate, MUC_HUONG (computed once per visit; `SplitResult.reasons` say why):

1. No card, or a card not valid on `visit.on` -> rate 0: every line is self-pay (`no_card`,
   `card_not_valid`). Valid = valid_from <= on <= valid_to + `card_expiry_grace_days` (15; a
   card expiring during treatment is paid at most 15 days more, NĐ 188/2025 Art. 50 cl. 4 [sec],
   brief 1.3). Whether treatment began before expiry and late presentation are for
   `insurance.cards` to decide before calling the engine.
2. Card rate from the benefit digit (3rd character): `card_rate[1..5]` = 100, 100, 95, 80, 100
   (brief 1.1 [impl, sec]). The group -> digit table is UNCONFIRMED (QĐ 1351/1018), so the engine
   trusts the digit printed on the card, except where a `group_digit[GROUP]` row in force gives
   the group a higher rate: CN 3 -> 2 and LH 4 -> 2 from 01/01/2026 (NQ 261/2025/QH15, CV
   38/BYT-BH [sec]; UNCONFIRMED), since older cards still show the old digit (`group_rate`).
   A person in several groups gets the highest rate (Art. 22 cl. 2 [sec]).
3. Route factor (`correct_route`, `referral`, `emergency`, `self_referred`): 100 on the correct
   route and with a referral (transfer slip); 100 in emergency at any facility (Art. 22 cl. 5,
   brief 2.3 [sec]). Self-referral: `route_rate[<category>:<kind>]`, the first category of
   `engine.route_categories(visit)` with a row in force (no row -> 0, `route_rate_missing`):
   - until 31/12/2024 (Law 46/2014, brief 2.3 [impl]): central 40 inpatient / 0 outpatient;
     provincial 60 inpatient, 100 from 01/01/2021, 0 outpatient; basic (district) 100 / 100;
     primary (commune) 100 / 100;
   - from 01/01/2025 outpatient (NĐ 188/2025 Art. 19 [sec]): basic level scored < 50 or
     provisionally graded (score None) 100; 50 from 01/07/2026 at a basic level scored 50 to
     < 70, a basic level that was provincial or central before 2025 (`former_level`), and a
     specialised level that was provincial before 2025. Before 01/07/2026 these three, a basic
     level scored 70+ and other specialised facilities: 0 (a reading: UNCONFIRMED). A basic
     facility with a former upper level is looked up by that first (UNCONFIRMED precedence);
   - from 01/01/2025 inpatient (Law 51/2024 Art. 22 cl. 3-4 not read: UNCONFIRMED): specialised
     40, specialised that was provincial before 2025 100, basic 100, primary 100.
   Facility levels are core `Facility.Level` values: central and provincial count as specialised
   from 2025 (central -> "specialised" 40 as in example 5; `former_level` empty = same as now).
4. 100 % rules, replacing the card rate (they are noted only when they change something):
   - primary level (`primary_level_full_rate`; facility level "primary" or a commune station):
     100, whatever the route (Art. 22 cl. 1 [sec]; QĐ 130 MUC_HUONG [text]) (`primary_level`);
   - co-payment exemption (`copay_exempt`): NGAY_MIEN_CCT (`copay_exempt_from`) on or before the
     date and in the same calendar year (it lasts until 31/12), with five consecutive years
     reached (`five_years_date` on or before the date) (Art. 22 cl. 1 d; NĐ 188 Art. 18 cl. 2
     [sec]). The earning threshold (6 × base salary, `copay_exemption_multiplier`) is BHXH's to
     apply; how to split the visit that crosses it is UNCONFIRMED and not done here;
   - small visit (`small_visit`): Σ THANH_TIEN_BH of the visit < `small_visit_threshold_ratio`
     (0.15) × `base_salary` in force on `visit.on` (QĐ 130 Table 2 [text]; decree article
     UNCONFIRMED). Base salary: 1,490,000 from 01/07/2019, 1,800,000 from 01/07/2023, 2,340,000
     from 01/07/2024, 2,530,000 from 01/07/2026 (UNCONFIRMED) (brief 2.1).
5. MUC_HUONG = (100 if a rule of 4 applies, else the card rate) × route factor / 100, not
   rounded (e.g. 80 × 40 % = 32; 95 × 50 % = 47.5, QĐ 1931 allows 4 characters). Self-referral
   with a 100 % rule gives 100 × the route factor: one reading of QĐ 130's "the route rate of the
   facility" (UNCONFIRMED).

Per line (QĐ 130 Tables 1-3, brief 2.4 and 3.7 [text]):

6. THANH_TIEN_BV = quantity × hospital price.
7. THANH_TIEN_BH = quantity × BHYT price × TYLE_TT_DV/100 × TYLE_TT_BH/100, never above
   THANH_TIEN_BV (`bhyt_above_hospital`). 0 when out of scope (PHAM_VI 2, `out_of_scope`) or
   without a BHYT price (`no_bhyt_price`): self-pay. Digit-1 cards ignore TYLE_TT_BH
   (`ratio_limit_waived[1]`, "no cap on ratio-limited drugs/services": UNCONFIRMED); digit-5
   cards are paid out-of-scope items at the BHYT price, or the hospital price when there is none
   (`out_of_scope_covered[5]`, "including costs outside the benefit scope": UNCONFIRMED).
8. Support given to the facility as a whole for an item (`facility_support`) comes off
   THANH_TIEN_BV first; THANH_TIEN_BH shrinks in the same proportion (exact in QĐ 130's example,
   where the prices are equal; with unequal prices UNCONFIRMED) (`facility_support`).
9. Supplies (MA_NHOM 10): THANH_TIEN_BH is capped at T_TRANTT = `supplies_cap_multiplier` (45)
   × base salary, per line (TT 04/2017/TT-BYT [impl]; per line is a reading) (`supplies_cap`).
10. T_BNTT = THANH_TIEN_BV − support to the facility − THANH_TIEN_BH (price difference
    `price_difference`, ratios `ratio_reduced`, out-of-scope); T_BHTT = THANH_TIEN_BH ×
    MUC_HUONG/100; T_BNCCT = THANH_TIEN_BH − T_BHTT.
11. ARV drugs (`arv=True`): T_NGUONKHAC takes the provisional T_BNCCT, T_BNCCT = 0 (QĐ 130),
    booked as NSNN (source UNCONFIRMED) (`arv_copay`).
12. Support given to this patient (`other_sources`: NSNN, VTNN, VTTN, CL) is taken first from
    T_BNTT, then T_BNCCT, then T_BHTT (QĐ 130) (`patient_support`); beyond the line's amount it
    is cut (`support_capped`).

Invariants (tested on every line and total, including by hypothesis):
THANH_TIEN_BV = T_BHTT + T_BNCCT + T_BNTT + T_NGUONKHAC; no amount negative; T_BHTT <=
THANH_TIEN_BH; totals are the sums of the lines (T_BHTT_GDV = Σ T_BHTT of MA_PTTT 1 lines).

Rounding happens in one place, `ehealth.core.money.quantize_money` (2 decimals, half up, as QĐ
130 writes amounts): on THANH_TIEN_BV, THANH_TIEN_BH, T_BHTT and each other-source amount.
Every other amount is a difference of rounded amounts, so the sums are exact. Arithmetic runs in
the engine's own decimal context (34 digits), whatever the caller's.
"""
