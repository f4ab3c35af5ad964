"""Identifier systems, code systems and extension URLs used on the wire: one place.

VN Core = the Vietnamese community FHIR guide (HL7 Vietnam, http://fhir.hl7.org.vn/core/, a draft).
Each entry says whether it was CONFIRMED in the guide's published NamingSystems or is UNCONFIRMED
(our best reading, or a local URI of this platform); docs/fhir.md lists them with the same marks.
"""

from __future__ import annotations

VN_CORE = "http://fhir.hl7.org.vn/core"

# --- Identifier systems (NamingSystem URIs) ------------------------------------------------------
CCCD = f"{VN_CORE}/sid/cccd"  # CONFIRMED: citizen ID (Căn cước công dân), 12 digits
BHYT = f"{VN_CORE}/sid/bhyt"  # CONFIRMED: NamingSystem vn-bhyt-ns (health-insurance card)
PASSPORT = f"{VN_CORE}/sid/passport"  # CONFIRMED: NamingSystem vn-passport-ns
FACILITY = f"{VN_CORE}/sid/ma-cskcb"  # CONFIRMED (draft 0.1.0): NamingSystem vn-ma-cskcb-ns
MA_LK = f"{VN_CORE}/sid/ma-lk"  # CONFIRMED: claim link code (used by later resources)
BHXH = f"{VN_CORE}/sid/bhxh"  # UNCONFIRMED: the guide lists a BHXH NamingSystem; URI not seen

# UNCONFIRMED / local: a record number (MRN) is unique within one facility only, so each facility
# gets its own system under this platform's namespace; the identifier also carries type MR and
# the facility as assigner (by its ma-cskcb code).
MRN_PREFIX = "urn:ehealth-city:mrn:"

# --- Code systems --------------------------------------------------------------------------------
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"  # HL7 identifier types (MR, ...)
ISO_3166 = "urn:iso:std:iso:3166"  # nationality codes
ETHNICITY_CS = f"{VN_CORE}/CodeSystem/vn-ethnicity-cs"  # UNCONFIRMED: 54 ethnic groups (GSO)
ADMIN_UNIT_CS = f"{VN_CORE}/CodeSystem/vn-admin-unit-cs"  # UNCONFIRMED: GSO unit codes
OCCUPATION_CS = "urn:ehealth-city:occupation"  # local (UNCONFIRMED against the BHYT table)

# --- Extensions ----------------------------------------------------------------------------------
NATIONALITY_EXT = "http://hl7.org/fhir/StructureDefinition/patient-nationality"  # HL7 core ext
ETHNICITY_EXT = f"{VN_CORE}/StructureDefinition/vn-ext-ethnicity"  # UNCONFIRMED
PROVINCE_EXT = f"{VN_CORE}/StructureDefinition/vn-ext-province"  # UNCONFIRMED (address)
COMMUNE_EXT = f"{VN_CORE}/StructureDefinition/vn-ext-commune"  # UNCONFIRMED (address)
OCCUPATION_EXT = "urn:ehealth-city:extension:occupation"  # local
ADDRESS_SCHEME_EXT = "urn:ehealth-city:extension:address-scheme"  # local: "2025" or "legacy"


def mrn_system(facility_code: str) -> str:
    return f"{MRN_PREFIX}{facility_code}"


# --- Organization, Location, Encounter (step 2) ---------------------------------------------------
ORGANIZATION_TYPE_CS = "http://terminology.hl7.org/CodeSystem/organization-type"  # HL7 (prov, govt)
FACILITY_KIND_CS = "urn:ehealth-city:facility-kind"  # local: hospital, clinic, commune_station, ...
FACILITY_LEVEL_CS = "urn:ehealth-city:facility-level"  # local: central, provincial, basic, primary
LOCATION_PHYSICAL_TYPE_CS = "http://terminology.hl7.org/CodeSystem/location-physical-type"  # HL7
# UNCONFIRMED / local: a department code (mã khoa) is unique within its facility only, so each
# facility gets its own system, like record numbers.
DEPARTMENT_PREFIX = "urn:ehealth-city:department:"
ACT_CODE_CS = "http://terminology.hl7.org/CodeSystem/v3-ActCode"  # HL7 (AMB, IMP): Encounter.class
VISIT_TYPE_CS = "urn:ehealth-city:ma-loai-kcb"  # local: MA_LOAI_KCB (QĐ 130), Encounter.type


def department_system(facility_code: str) -> str:
    return f"{DEPARTMENT_PREFIX}{facility_code}"


# --- Condition, Coverage (step 3) ------------------------------------------------------------------
ICD_10 = "http://hl7.org/fhir/sid/icd-10"  # HL7: WHO ICD-10 (the MoH list uses WHO codes)
CONDITION_CATEGORY_CS = "http://terminology.hl7.org/CodeSystem/condition-category"  # HL7
CONDITION_CLINICAL_CS = "http://terminology.hl7.org/CodeSystem/condition-clinical"  # HL7
CONDITION_VER_STATUS_CS = "http://terminology.hl7.org/CodeSystem/condition-ver-status"  # HL7
# local: main (rank 1 = bệnh chính) or secondary (2.. = bệnh kèm theo), like Encounter.diagnosis.rank
DIAGNOSIS_RANK_EXT = "urn:ehealth-city:extension:diagnosis-rank"
DIAGNOSIS_PHASE_EXT = "urn:ehealth-city:extension:diagnosis-phase"  # local: valueCoding below
DIAGNOSIS_PHASE_CS = "urn:ehealth-city:diagnosis-phase"  # local: encounter, admission, discharge
COVERAGE_CLASS_CS = "http://terminology.hl7.org/CodeSystem/coverage-class"  # HL7 (group, class)
SUBSCRIBER_RELATIONSHIP_CS = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"  # HL7
# local, UNCONFIRMED against VN Core: the BHYT card's other printed fields
BHYT_REGISTERED_FACILITY_EXT = "urn:ehealth-city:extension:bhyt-registered-facility"  # nơi ĐKKCB
BHYT_FIVE_YEARS_EXT = "urn:ehealth-city:extension:bhyt-five-years-date"  # NAM_NAM_LIEN_TUC
BHYT_COPAY_EXEMPT_EXT = "urn:ehealth-city:extension:bhyt-copay-exempt-from"  # NGAY_MIEN_CCT


# --- ServiceRequest, DiagnosticReport, MedicationRequest (orders) --------------------------------
# The platform's own catalog codes (local): a service's and a drug's `code` in the city catalog.
SERVICE_CATALOG_CS = "urn:ehealth-city:service"  # local: core.MedicalService.code
DRUG_CATALOG_CS = "urn:ehealth-city:drug"  # local: core.Drug.code
# The MoH shared codes (DMDC) the claim carries: MA_DICH_VU (XML3) and MA_THUOC (XML2, the
# active-ingredient code of the MoH list). Local URIs, UNCONFIRMED: VN Core (fhir.hl7.org.vn) names
# no system for them; the MoH's own guide (fhir.ehealth.gov.vn, CI build) lists
# vn-core-procedureCode / vn-core-medicationCode without codes, so their content is not confirmed.
MOH_SERVICE_CS = "urn:ehealth-city:ma-dich-vu"  # local, UNCONFIRMED: MedicalService.moh_code
MOH_DRUG_CS = "urn:ehealth-city:ma-thuoc"  # local, UNCONFIRMED: Drug.active_ingredient_code
COST_GROUP_CS = "urn:ehealth-city:ma-nhom"  # local: MA_NHOM cost group (QĐ 5937), a category
PRESCRIPTION_ID = "urn:ehealth-city:prescription"  # local: a prescription's id on this platform
DIAGNOSTIC_SECTION_CS = "http://terminology.hl7.org/CodeSystem/v2-0074"  # HL7: LAB, RAD, OTH
UCUM_UNITS = "http://unitsofmeasure.org"  # durations in days ("d")
MEDREQ_CATEGORY_CS = "http://terminology.hl7.org/CodeSystem/medicationrequest-category"  # HL7


# --- Practitioner, PractitionerRole, AuditEvent ---------------------------------------------------
# local, UNCONFIRMED: the practising certificate number (số chứng chỉ hành nghề,
# User.practitioner_code); VN Core names no system for it. Identifier type v2-0203 `LN`.
PRACTISING_CERTIFICATE = "urn:ehealth-city:practising-certificate"
STAFF_ROLE_CS = "urn:ehealth-city:staff-role"  # local: core.Role codes (and fhir_client)
PRACTITIONER_ROLE_CS = "http://terminology.hl7.org/CodeSystem/practitioner-role"  # HL7
SNOMED_SCT = "http://snomed.info/sct"  # SNOMED CT occupations in PractitionerRole.code
AUDIT_EVENT_TYPE_CS = "http://terminology.hl7.org/CodeSystem/audit-event-type"  # HL7: rest
RESTFUL_INTERACTION_CS = "http://hl7.org/fhir/restful-interaction"  # HL7: read, search-type...
AUDIT_CHANNEL_CS = "urn:ehealth-city:audit-channel"  # local: web, api, task, cli (non-REST)
AUDIT_ACTION_CS = "urn:ehealth-city:audit-action"  # local: the trail's action names
AUDIT_ENTITY_TYPE_CS = "http://terminology.hl7.org/CodeSystem/audit-entity-type"  # HL7: 1, 2
OBJECT_ROLE_CS = "http://terminology.hl7.org/CodeSystem/object-role"  # HL7: 1 Patient, 24 Query
AUDIT_SOURCE_TYPE_CS = "http://terminology.hl7.org/CodeSystem/security-source-type"  # HL7: 4
SECURITY_ROLE_TYPE_CS = "http://terminology.hl7.org/CodeSystem/extra-security-role-type"  # HL7
DICOM_DCM = "http://dicom.nema.org/resources/ontology/DCM"  # DICOM: 110150 Application
FHIR_CLIENT_ID = "urn:ehealth-city:fhir-client"  # local: a partner's OAuth2 client_id
RECORD_PREFIX = "urn:ehealth-city:record:"  # local: <app.Model> of a record no resource maps


# --- Observation (vital signs, result values), AllergyIntolerance ---------------------------------
LOINC = "http://loinc.org"  # vital-sign codes (FHIR vital signs profile)
OBSERVATION_CATEGORY_CS = "http://terminology.hl7.org/CodeSystem/observation-category"  # HL7
OBSERVATION_INTERPRETATION_CS = (
    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"  # HL7: L, N, H
)
DATA_ABSENT_REASON_CS = "http://terminology.hl7.org/CodeSystem/data-absent-reason"  # HL7
VITAL_PROFILE_PREFIX = "http://hl7.org/fhir/StructureDefinition/"  # R4 core: bodytemp, bp, ...
RESULT_INDEX_CS = "urn:ehealth-city:result-index"  # local: a result value's code (MA_CHI_SO)
ALLERGY_CLINICAL_CS = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"  # HL7
ALLERGY_VERIFICATION_CS = (
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"  # HL7
)


# --- ChargeItem, Invoice, Claim, ClaimResponse (fees and claims) ---------------------------------
# Reuses SERVICE_CATALOG_CS, DRUG_CATALOG_CS, MOH_SERVICE_CS, MOH_DRUG_CS and COST_GROUP_CS above.
SUPPLY_CATALOG_CS = "urn:ehealth-city:supply"  # local: core.Supply.code
MOH_SUPPLY_CS = "urn:ehealth-city:ma-vat-tu"  # local, UNCONFIRMED: Supply.moh_code (XML3 MA_VAT_TU)
INVOICE_NUMBER = "urn:ehealth-city:invoice-number"  # local: HD + 8 digits, unique in the city
# local: the parts of a charge under the BHYT split (QĐ 130 column names in the displays)
PRICE_COMPONENT_CS = "urn:ehealth-city:bhyt-price-component"
CLAIM_TYPE_CS = "http://terminology.hl7.org/CodeSystem/claim-type"  # HL7: institutional, ...
PROCESS_PRIORITY_CS = "http://terminology.hl7.org/CodeSystem/processpriority"  # HL7: normal
DIAGNOSIS_TYPE_CS = "http://terminology.hl7.org/CodeSystem/ex-diagnosistype"  # HL7: principal
ADJUDICATION_CS = "http://terminology.hl7.org/CodeSystem/adjudication"  # HL7: submitted, benefit
PAYMENT_TYPE_CS = "http://terminology.hl7.org/CodeSystem/ex-paymenttype"  # HL7: complete, partial
DOSSIER_STATUS_CS = "urn:ehealth-city:claim-dossier-status"  # local: draft .. paid (the dossier)
BHXH_ERROR_CS = "urn:ehealth-city:bhxh-error"  # local: the insurer gateway's error code (maLoi)
UNIT_PRICE_EXT = "urn:ehealth-city:extension:unit-price"  # local: DON_GIA_BV, valueMoney
BHYT_UNIT_PRICE_EXT = "urn:ehealth-city:extension:bhyt-unit-price"  # local: DON_GIA_BH
COST_GROUP_EXT = "urn:ehealth-city:extension:cost-group"  # local: MA_NHOM, valueCoding
ENCOUNTER_EXT = "urn:ehealth-city:extension:encounter"  # local: Invoice -> its Encounter
BENEFIT_RATE_EXT = "urn:ehealth-city:extension:bhyt-benefit-rate"  # local: MUC_HUONG (%)
AMOUNT_PAID_EXT = "urn:ehealth-city:extension:amount-paid"  # local: what the patient has paid
FUND_CLAIMED_EXT = "urn:ehealth-city:extension:bhyt-fund-amount"  # local: T_BHTT asked of the fund
DOSSIER_STATUS_EXT = "urn:ehealth-city:extension:claim-dossier-status"  # local: valueCoding
DOSSIER_VERSION_EXT = "urn:ehealth-city:extension:claim-dossier-version"  # local: positiveInt


# --- Encounter and Condition writes ----------------------------------------------------------------
# local, UNCONFIRMED against VN Core: how the patient came (hình thức đến), valueCoding
ARRIVAL_MODE_EXT = "urn:ehealth-city:extension:arrival-mode"
ARRIVAL_MODE_CS = "urn:ehealth-city:arrival-mode"  # local: registered, referral, emergency, ...
# local, UNCONFIRMED: the BHYT card presented for the encounter, valueIdentifier (system BHYT,
# value = the card code, period = its validity as printed); the registered facility (nơi ĐKKCB)
# uses BHYT_REGISTERED_FACILITY_EXT above, valueIdentifier in the ma-cskcb system.
ENCOUNTER_BHYT_CARD_EXT = "urn:ehealth-city:extension:bhyt-card"
REFERRAL_PAPER_EXT = "urn:ehealth-city:extension:referral-paper-number"  # local: số giấy chuyển
# local: a clinic room (phòng khám) is not a Location resource; it is named by its code in a
# system per facility (codes are unique within a department of one facility).
CLINIC_ROOM_PREFIX = "urn:ehealth-city:clinic-room:"
ADMIT_SOURCE_CS = "http://terminology.hl7.org/CodeSystem/admit-source"  # HL7: outp, emd, hosp-trans
DISCHARGE_DISPOSITION_CS = "http://terminology.hl7.org/CodeSystem/discharge-disposition"  # HL7
VISIT_CONCLUSION_CS = "urn:ehealth-city:visit-conclusion"  # local: home, follow_up, admit, ...
FOLLOW_UP_DATE_EXT = "urn:ehealth-city:extension:follow-up-date"  # local: valueDate
TRANSFER_REASON_EXT = "urn:ehealth-city:extension:transfer-reason"  # local: valueString


def clinic_room_system(facility_code: str) -> str:
    return f"{CLINIC_ROOM_PREFIX}{facility_code}"
