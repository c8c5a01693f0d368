//! A synthetic province (or, at national scale, many agencies): agencies, units in a tree,
//! employees with valid NIPs, and dated assignments whose superiors follow the tree.
//!
//! Everything is a pure function of the [`ProvinceSpec`] and an employee's index, so 4.3
//! million employees never need to sit in memory at once: callers ask for employee `i` (and its
//! assignment) while they stream. Only agencies and units are materialised.
//!
//! Layout: each agency has `ceil(employees_of_agency / employees_per_unit)` units in a complete
//! tree of fan-out [`ProvinceSpec::fanout`] stored in breadth-first order (unit `j`'s parent is
//! `(j - 1) / fanout`), so a parent always comes before its children. Every unit holds
//! `employees_per_unit` employees; the first one heads the unit and reports to the head of the
//! parent unit, the others report to their own head.
//!
//! Later services extend the province the same way: a function of the employee index (and the
//! spec's seed) that yields that employee's records — e.g. `skp(i)` with about five RHK of two
//! indicators each, `realisasi(i, quarter)` for four quarters, `rating(i)` and `result(i)` —
//! so their scenarios can seed and stream without materialising the province.

use chrono::NaiveDate;

/// Size and shape of a synthetic province.
#[derive(Debug, Clone)]
pub struct ProvinceSpec {
    /// Number of employees.
    pub employees: u64,
    /// Employees per unit (the first heads it).
    pub employees_per_unit: u64,
    /// Children per unit in the unit tree.
    pub fanout: u64,
    /// Number of agencies the employees are spread over (1 for a provincial government).
    pub agencies: u64,
    /// Offset into the NIP space, so several provinces can live in one database.
    pub nip_offset: u64,
}

impl ProvinceSpec {
    /// A province of `employees`: one agency per 50,000 employees (at least one), 20 employees
    /// per unit, fan-out 10.
    pub fn new(employees: u64) -> Self {
        Self {
            employees,
            employees_per_unit: 20,
            fanout: 10,
            agencies: employees.div_ceil(50_000).max(1),
            nip_offset: 0,
        }
    }
}

/// A generated agency.
#[derive(Debug, Clone)]
pub struct GenAgency {
    /// Identifier (UUID v7, as the service makes them).
    pub id: String,
    /// Unique code.
    pub code: String,
    /// Name.
    pub name: String,
    /// First employee index of the agency.
    pub first_employee: u64,
    /// Number of employees of the agency.
    pub employees: u64,
    /// Index of the agency's root unit in [`Province::units`].
    pub first_unit: usize,
    /// Number of units of the agency.
    pub units: usize,
}

/// A generated unit.
#[derive(Debug, Clone)]
pub struct GenUnit {
    /// Identifier.
    pub id: String,
    /// Index of the agency in [`Province::agencies`].
    pub agency: usize,
    /// Index of the parent unit in [`Province::units`], if any.
    pub parent: Option<usize>,
    /// Code, unique per agency.
    pub code: String,
    /// Name.
    pub name: String,
    /// Depth in the tree (0 at the root).
    pub depth: i32,
    /// Materialised path `/root/.../own/`, as the service stores it.
    pub path: String,
}

/// One generated employee with the assignment that places them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenEmployee {
    /// Index in the province.
    pub index: u64,
    /// A valid, unique NIP.
    pub nip: String,
    /// Full name.
    pub name: String,
    /// `EMPLOYMENT_STATUS_*` value (1 PNS, 2 PPPK).
    pub status: i32,
    /// `POSITION_TYPE_*` value.
    pub position_type: i32,
    /// Position name.
    pub position_name: String,
    /// Index of the agency.
    pub agency: usize,
    /// Index of the unit of the assignment.
    pub unit: usize,
    /// Index of the superior (the assessor), if any.
    pub superior: Option<u64>,
    /// First day of the assignment.
    pub start_date: NaiveDate,
}

/// A materialised province: agencies and units; employees are computed on demand.
#[derive(Debug, Clone)]
pub struct Province {
    /// The spec it was made from.
    pub spec: ProvinceSpec,
    /// Agencies.
    pub agencies: Vec<GenAgency>,
    /// Units of every agency, each agency's in breadth-first order.
    pub units: Vec<GenUnit>,
}

const FIRST: &[&str] = &[
    "Andi", "Siti", "Muhammad", "Dewi", "Ahmad", "Nur", "Budi", "Sri", "Agus", "Rina", "Hendra",
    "Fitri", "Yusuf", "Ratna", "Rudi", "Wahyuni", "Arif", "Indah", "Dedi", "Lestari",
];
const LAST: &[&str] = &[
    "Mappanyukki",
    "Rahmawati",
    "Hidayat",
    "Saputra",
    "Pratama",
    "Wulandari",
    "Siregar",
    "Nasution",
    "Daeng Matata",
    "Simanjuntak",
    "Kurniawan",
    "Lubis",
    "Harahap",
    "Setiawan",
    "Tambunan",
    "Rasyid",
    "Mahmud",
    "Syamsuddin",
    "Pohan",
    "Halim",
];
const OPD: &[&str] = &[
    "Dinas Pendidikan",
    "Dinas Kesehatan",
    "Dinas Pekerjaan Umum",
    "Badan Kepegawaian Daerah",
    "Badan Perencanaan Pembangunan Daerah",
    "Dinas Sosial",
    "Dinas Perhubungan",
    "Inspektorat",
    "Badan Pendapatan Daerah",
    "Dinas Pertanian",
];

/// Capacity of the NIP space walked by [`nip`]: sequence x sex x appointment month x birth day.
const NIP_SPACE: u128 = 999 * 2 * 240 * 7300;
/// Multiplier of the permutation over the NIP space (a prime not dividing [`NIP_SPACE`]), so
/// consecutive indices get scattered NIPs, as real imports have.
const NIP_MULT: u128 = 2_654_435_761;

/// The NIP of employee `index` (valid per `domain::nip`, unique for indices below 3.5 billion).
pub fn nip(index: u64) -> String {
    let p = (index as u128 * NIP_MULT) % NIP_SPACE;
    let seq = (p % 999) as u32 + 1;
    let p = p / 999;
    let sex = (p % 2) as u32 + 1;
    let p = p / 2;
    let month = (p % 240) as u32; // appointment: 2000-01 .. 2019-12
    let day = (p / 240) as i64; // birth: 1960-01-01 + day (< 7300 days, before 1980)
    let birth =
        NaiveDate::from_ymd_opt(1960, 1, 1).unwrap_or_default() + chrono::Days::new(day as u64);
    format!(
        "{}{:04}{:02}{}{:03}",
        birth.format("%Y%m%d"),
        2000 + month / 12,
        month % 12 + 1,
        sex,
        seq
    )
}

fn mix(mut x: u64) -> u64 {
    // splitmix64 finaliser
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl Province {
    /// Builds agencies and units for `spec` (ids are fresh UUID v7s).
    pub fn generate(spec: ProvinceSpec) -> Self {
        let per_agency = spec.employees.div_ceil(spec.agencies.max(1)).max(1);
        let mut agencies = Vec::new();
        let mut units = Vec::new();
        let mut first = 0;
        for a in 0..spec.agencies.max(1) {
            let n = per_agency.min(spec.employees.saturating_sub(first));
            if n == 0 && a > 0 {
                break;
            }
            let n_units = n.div_ceil(spec.employees_per_unit).max(1) as usize;
            let first_unit = units.len();
            let agency_id = crate::store::new_id();
            for j in 0..n_units {
                let id = crate::store::new_id();
                let parent = (j > 0).then(|| first_unit + (j - 1) / spec.fanout as usize);
                let (depth, path) = match parent {
                    None => (0, format!("/{id}/")),
                    Some(p) => {
                        let pu: &GenUnit = &units[p];
                        (pu.depth + 1, format!("{}{id}/", pu.path))
                    }
                };
                let name = match depth {
                    0 => "Sekretariat Daerah".to_owned(),
                    1 => format!("{} {}", OPD[j % OPD.len()], j),
                    2 => format!("Bidang {j}"),
                    _ => format!("Seksi {j}"),
                };
                units.push(GenUnit {
                    id,
                    agency: a as usize,
                    parent,
                    code: format!("U{j:06}"),
                    name,
                    depth,
                    path,
                });
            }
            agencies.push(GenAgency {
                id: agency_id,
                code: format!("BENCH-{a:04}"),
                name: format!("Pemerintah Daerah Sintetis {a}"),
                first_employee: first,
                employees: n,
                first_unit,
                units: n_units,
            });
            first += n;
        }
        Self {
            spec,
            agencies,
            units,
        }
    }

    /// Number of employees.
    pub fn len(&self) -> u64 {
        self.spec.employees
    }

    /// True when the province has no employees.
    pub fn is_empty(&self) -> bool {
        self.spec.employees == 0
    }

    /// Index of the agency of employee `i`.
    pub fn agency_of(&self, i: u64) -> usize {
        let per = self.agencies.first().map_or(1, |a| a.employees.max(1));
        ((i / per) as usize).min(self.agencies.len().saturating_sub(1))
    }

    /// Employee `i` with their assignment.
    pub fn employee(&self, i: u64) -> GenEmployee {
        let a = self.agency_of(i);
        let ag = &self.agencies[a];
        let local = i - ag.first_employee;
        let k = self.spec.employees_per_unit;
        let unit_local = (local / k) as usize;
        let unit = ag.first_unit + unit_local;
        let head = local.is_multiple_of(k);
        let superior = if head {
            self.units[unit].parent.map(|p| {
                let parent_local = (p - ag.first_unit) as u64;
                ag.first_employee + parent_local * k
            })
        } else {
            Some(ag.first_employee + unit_local as u64 * k)
        };
        let r = mix(i ^ 0x4b49_4e45);
        let depth = self.units[unit].depth;
        let (position_type, position_name) = match (head, depth) {
            (true, 0) => (1, "Sekretaris Daerah".to_owned()),
            (true, 1) => (1, "Kepala Dinas".to_owned()),
            (true, 2) => (2, "Kepala Bidang".to_owned()),
            (true, _) => (3, "Kepala Seksi".to_owned()),
            (false, _) if r.is_multiple_of(3) => (5, "Analis Kebijakan Ahli Muda".to_owned()),
            (false, _) => (4, "Pengadministrasi Umum".to_owned()),
        };
        let n = self.spec.nip_offset + i;
        GenEmployee {
            index: i,
            nip: nip(n),
            name: format!(
                "{} {}",
                FIRST[(r % FIRST.len() as u64) as usize],
                LAST[((r >> 16) % LAST.len() as u64) as usize]
            ),
            status: if (r >> 32).is_multiple_of(10) { 2 } else { 1 },
            position_type,
            position_name,
            agency: a,
            unit,
            superior,
            start_date: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn nips_are_valid_and_unique() {
        let mut seen = HashSet::new();
        for i in (0..200_000u64).chain(4_299_000..4_300_000) {
            let n = nip(i);
            crate::domain::nip::parse(&n).unwrap_or_else(|e| panic!("{n}: {e}"));
            assert!(seen.insert(n), "duplicate NIP at {i}");
        }
    }

    #[test]
    fn tree_and_superiors_are_consistent() {
        let p = Province::generate(ProvinceSpec::new(10_000));
        assert_eq!(p.agencies.len(), 1);
        assert_eq!(p.units.len(), 500);
        for (j, u) in p.units.iter().enumerate() {
            if let Some(parent) = u.parent {
                assert!(parent < j, "parents come first");
                assert!(u.path.starts_with(&p.units[parent].path));
                assert_eq!(u.depth, p.units[parent].depth + 1);
            }
        }
        let root_head = p.employee(0);
        assert_eq!(root_head.superior, None);
        for i in 1..10_000 {
            let e = p.employee(i);
            let s = e.superior.expect("everyone but the top has a superior");
            assert!(s < i, "superiors come before their reports");
            let se = p.employee(s);
            assert!(
                se.unit == e.unit || Some(se.unit) == p.units[e.unit].parent,
                "the superior heads the own or the parent unit"
            );
        }
    }

    #[test]
    fn national_scale_spreads_over_agencies() {
        let p = Province::generate(ProvinceSpec::new(120_000));
        assert_eq!(p.agencies.len(), 3);
        let total: u64 = p.agencies.iter().map(|a| a.employees).sum();
        assert_eq!(total, 120_000);
        let last = p.employee(119_999);
        assert_eq!(last.agency, 2);
        assert!(last.unit >= p.agencies[2].first_unit);
    }
}
