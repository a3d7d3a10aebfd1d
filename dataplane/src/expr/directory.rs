//! The names an expression can refer to: interfaces, routes (for `oif`), IP
//! groups, users and user groups.
//!
//! Built once from the appliance's configuration (the users table can be
//! replaced at run time; callers then recompile their expressions).
//!
//! Promises: a [`Directory`] that exists is consistent — interface names are
//! unique, every route names an interface and has a valid prefix (no two
//! routes share one), every IP-group entry is a valid address value or names
//! another group, groups form no cycle, users' addresses are valid and every
//! user-group member is a known user. Errors name the offending group, user,
//! route or entry.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;

use super::ast::AddrValue;
use super::intervals::{IntervalSet, Point};
use super::parser::parse_addr_value;

/// Index of an interface in the [`Directory`] (its position in the list it
/// was built from).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IfIndex(pub u16);

/// What an interface is, for the `vpn` and `vpnclient` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InterfaceKind {
    /// A plain link.
    #[default]
    Ethernet,
    /// A site-to-site VPN tunnel (`vpn`).
    VpnTunnel,
    /// A VPN client connection (`vpn` and `vpnclient`).
    VpnClient,
}

impl InterfaceKind {
    /// Is this a VPN of either kind?
    pub fn is_vpn(self) -> bool {
        matches!(self, InterfaceKind::VpnTunnel | InterfaceKind::VpnClient)
    }
}

/// One interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceDef {
    /// The name expressions use (`iif = "Internet"`); case-sensitive.
    pub name: String,
    /// The kind.
    pub kind: InterfaceKind,
}

/// One route of the `oif` table: destinations in `prefix` leave through
/// `interface`. The longest matching prefix wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteDef {
    /// `"10.0.0.0/8"`, `"10.0.0.0/255.0.0.0"`, `"10.1.2.3"` (a host route),
    /// `"2001:db8::/32"`.
    pub prefix: String,
    /// The interface name.
    pub interface: String,
}

/// A directory that does not hold together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    /// More interfaces than an [`IfIndex`] can number.
    #[error("too many interfaces ({0}); at most 65535 are supported")]
    TooManyInterfaces(usize),
    /// Two interfaces share a name.
    #[error("interface name \"{0}\" is used twice")]
    DuplicateInterface(String),
    /// A route's prefix is not a valid prefix.
    #[error("route \"{prefix}\": {message}")]
    BadRoute {
        /// The prefix as written.
        prefix: String,
        /// What is wrong with it.
        message: String,
    },
    /// A route names an interface that does not exist.
    #[error("route \"{prefix}\" names unknown interface \"{interface}\"")]
    RouteUnknownInterface {
        /// The prefix as written.
        prefix: String,
        /// The unknown name.
        interface: String,
    },
    /// Two routes have the same prefix.
    #[error("routes \"{first}\" and \"{second}\" have the same prefix")]
    DuplicateRoute {
        /// The first route's prefix as written.
        first: String,
        /// The second route's prefix as written.
        second: String,
    },
    /// An IP-group entry is not an address value.
    #[error("IP group \"{group}\", entry {entry:?}: {message}")]
    BadGroupEntry {
        /// The group.
        group: String,
        /// The entry as written.
        entry: String,
        /// What is wrong with it.
        message: String,
    },
    /// An IP group names a group that does not exist.
    #[error("IP group \"{group}\" names unknown IP group \"{name}\"")]
    UnknownGroup {
        /// The group holding the reference.
        group: String,
        /// The unknown name.
        name: String,
    },
    /// IP groups refer to each other in a cycle.
    #[error("IP groups refer to each other in a cycle: {}", .0.join(" -> "))]
    GroupCycle(Vec<String>),
    /// A user's address is not a plain address value.
    #[error("user \"{user}\", address {entry:?}: {message}")]
    BadUserAddress {
        /// The user.
        user: String,
        /// The entry as written.
        entry: String,
        /// What is wrong with it.
        message: String,
    },
    /// A user group names a user that does not exist.
    #[error("user group \"{group}\" names unknown user \"{user}\"")]
    UnknownUserInGroup {
        /// The group.
        group: String,
        /// The unknown user.
        user: String,
    },
}

/// An IPv4 or IPv6 route prefix, network bits only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prefix {
    V4 { net: u32, len: u8 },
    V6 { net: u128, len: u8 },
}

/// A validated route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    pub(crate) prefix: Prefix,
    pub(crate) iface: IfIndex,
}

/// A validated IP-group entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GroupEntry {
    /// A host, subnet or range.
    Addr(AddrValue),
    /// Another group.
    Group(String),
}

/// An address set split by family.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct AddrSet {
    pub(crate) v4: IntervalSet<u32>,
    pub(crate) v6: IntervalSet<u128>,
}

/// The names expressions resolve against. `Directory::default()` is empty.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    interfaces: Vec<InterfaceDef>,
    routes: Vec<Route>,
    /// Disjoint segments of the address space with the interface the longest
    /// matching route sends them to.
    lpm_v4: Vec<(u32, u32, IfIndex)>,
    lpm_v6: Vec<(u128, u128, IfIndex)>,
    ip_groups: BTreeMap<String, Vec<GroupEntry>>,
    group_sets: BTreeMap<String, AddrSet>,
    users: BTreeMap<String, Vec<AddrValue>>,
    user_sets: BTreeMap<String, AddrSet>,
    user_groups: BTreeMap<String, Vec<String>>,
}

/// Collects a [`Directory`] piece by piece; [`DirectoryBuilder::build`] validates.
#[derive(Debug, Clone, Default)]
pub struct DirectoryBuilder {
    interfaces: Vec<InterfaceDef>,
    routes: Vec<RouteDef>,
    ip_groups: BTreeMap<String, Vec<String>>,
    users: BTreeMap<String, Vec<String>>,
    user_groups: BTreeMap<String, Vec<String>>,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

impl DirectoryBuilder {
    /// Adds an interface; its [`IfIndex`] is the number added before it.
    pub fn interface(mut self, name: &str, kind: InterfaceKind) -> Self {
        self.interfaces.push(InterfaceDef {
            name: name.to_string(),
            kind,
        });
        self
    }

    /// Adds a route.
    pub fn route(mut self, prefix: &str, interface: &str) -> Self {
        self.routes.push(RouteDef {
            prefix: prefix.to_string(),
            interface: interface.to_string(),
        });
        self
    }

    /// Adds (or replaces) an IP group.
    pub fn ip_group(mut self, name: &str, entries: &[&str]) -> Self {
        self.ip_groups.insert(name.to_string(), strings(entries));
        self
    }

    /// Adds (or replaces) a user and the addresses they connect from.
    pub fn user(mut self, name: &str, addresses: &[&str]) -> Self {
        self.users.insert(name.to_string(), strings(addresses));
        self
    }

    /// Adds (or replaces) a user group.
    pub fn user_group(mut self, name: &str, users: &[&str]) -> Self {
        self.user_groups.insert(name.to_string(), strings(users));
        self
    }

    /// Validates and builds the directory.
    pub fn build(self) -> Result<Directory, DirectoryError> {
        Directory::new(
            self.interfaces,
            self.routes,
            self.ip_groups,
            self.users,
            self.user_groups,
        )
    }
}

impl Directory {
    /// A builder for a directory.
    pub fn builder() -> DirectoryBuilder {
        DirectoryBuilder::default()
    }

    /// Validates and builds a directory. Interfaces are numbered by their
    /// position in `interfaces`. Group entries, user addresses and route
    /// prefixes use the expression syntax for address values.
    pub fn new(
        interfaces: Vec<InterfaceDef>,
        routes: Vec<RouteDef>,
        ip_groups: BTreeMap<String, Vec<String>>,
        users: BTreeMap<String, Vec<String>>,
        user_groups: BTreeMap<String, Vec<String>>,
    ) -> Result<Directory, DirectoryError> {
        if interfaces.len() > usize::from(u16::MAX) {
            return Err(DirectoryError::TooManyInterfaces(interfaces.len()));
        }
        for (i, a) in interfaces.iter().enumerate() {
            if interfaces[..i].iter().any(|b| b.name == a.name) {
                return Err(DirectoryError::DuplicateInterface(a.name.clone()));
            }
        }
        let mut dir = Directory {
            interfaces,
            ..Directory::default()
        };
        dir.set_routes(&routes)?;
        dir.set_ip_groups(ip_groups)?;
        dir.user_groups = user_groups;
        dir.replace_users(users)?;
        Ok(dir)
    }

    /// All interfaces, in [`IfIndex`] order.
    pub fn interfaces(&self) -> &[InterfaceDef] {
        &self.interfaces
    }

    /// The index of the interface called `name`.
    pub fn interface_index(&self, name: &str) -> Option<IfIndex> {
        self.interfaces
            .iter()
            .position(|i| i.name == name)
            .and_then(|i| u16::try_from(i).ok())
            .map(IfIndex)
    }

    /// The interface at `index`.
    pub fn interface(&self, index: IfIndex) -> Option<&InterfaceDef> {
        self.interfaces.get(usize::from(index.0))
    }

    /// Replaces the users table (user name → addresses). User groups must
    /// still name only known users. On error the directory is unchanged.
    /// Compiled matchers keep the addresses they were compiled with:
    /// recompile to pick up the change.
    pub fn replace_users(
        &mut self,
        users: BTreeMap<String, Vec<String>>,
    ) -> Result<(), DirectoryError> {
        let mut parsed = BTreeMap::new();
        let mut sets = BTreeMap::new();
        for (user, entries) in &users {
            let mut values = Vec::new();
            for entry in entries {
                let bad = |message: String| DirectoryError::BadUserAddress {
                    user: user.clone(),
                    entry: entry.clone(),
                    message,
                };
                let v = parse_addr_value(entry).map_err(|e| bad(e.message))?;
                if matches!(v, AddrValue::List { .. } | AddrValue::Users(_)) {
                    return Err(bad(
                        "a user's address must be a host, subnet or range".into()
                    ));
                }
                values.push(v);
            }
            let mut set = SetBuilder::default();
            for v in &values {
                set.add_leaf(v);
            }
            sets.insert(user.clone(), set.build());
            parsed.insert(user.clone(), values);
        }
        for (group, members) in &self.user_groups {
            if let Some(user) = members.iter().find(|u| !parsed.contains_key(*u)) {
                return Err(DirectoryError::UnknownUserInGroup {
                    group: group.clone(),
                    user: user.clone(),
                });
            }
        }
        self.users = parsed;
        self.user_sets = sets;
        Ok(())
    }

    fn set_routes(&mut self, defs: &[RouteDef]) -> Result<(), DirectoryError> {
        let mut routes: Vec<Route> = Vec::with_capacity(defs.len());
        for (i, def) in defs.iter().enumerate() {
            let bad = |message: String| DirectoryError::BadRoute {
                prefix: def.prefix.clone(),
                message,
            };
            let prefix = match parse_addr_value(&def.prefix).map_err(|e| bad(e.message))? {
                AddrValue::V4Host(a) => v4_prefix(a.into(), 32),
                AddrValue::V4Prefix { addr, len } => v4_prefix(addr.into(), len),
                AddrValue::V4Mask { addr, mask } => {
                    v4_prefix(addr.into(), u32::from(mask).leading_ones() as u8)
                }
                AddrValue::V6Host(a) => v6_prefix(a.into(), 128),
                AddrValue::V6Prefix { addr, len } => v6_prefix(addr.into(), len),
                _ => return Err(bad("a route needs a host or a subnet".into())),
            };
            let iface = self.interface_index(&def.interface).ok_or_else(|| {
                DirectoryError::RouteUnknownInterface {
                    prefix: def.prefix.clone(),
                    interface: def.interface.clone(),
                }
            })?;
            if let Some(j) = routes.iter().position(|r| r.prefix == prefix) {
                return Err(DirectoryError::DuplicateRoute {
                    first: defs[j].prefix.clone(),
                    second: defs[i].prefix.clone(),
                });
            }
            routes.push(Route { prefix, iface });
        }
        // Paint shorter prefixes first so longer ones overwrite them.
        let mut order: Vec<&Route> = routes.iter().collect();
        order.sort_by_key(|r| match r.prefix {
            Prefix::V4 { len, .. } | Prefix::V6 { len, .. } => len,
        });
        for r in order {
            match r.prefix {
                Prefix::V4 { net, len } => {
                    paint(&mut self.lpm_v4, net, net | !mask32(len), r.iface)
                }
                Prefix::V6 { net, len } => {
                    paint(&mut self.lpm_v6, net, net | !mask128(len), r.iface)
                }
            }
        }
        self.routes = routes;
        Ok(())
    }

    fn set_ip_groups(
        &mut self,
        groups: BTreeMap<String, Vec<String>>,
    ) -> Result<(), DirectoryError> {
        let mut parsed: BTreeMap<String, Vec<GroupEntry>> = BTreeMap::new();
        for (group, entries) in &groups {
            let mut out = Vec::new();
            for entry in entries {
                let bad = |message: String| DirectoryError::BadGroupEntry {
                    group: group.clone(),
                    entry: entry.clone(),
                    message,
                };
                match parse_addr_value(entry).map_err(|e| bad(e.message))? {
                    AddrValue::List { name, .. } => {
                        if !groups.contains_key(&name) {
                            return Err(DirectoryError::UnknownGroup {
                                group: group.clone(),
                                name,
                            });
                        }
                        out.push(GroupEntry::Group(name));
                    }
                    AddrValue::Users(_) => {
                        return Err(bad("user lists are not allowed in IP groups".into()))
                    }
                    v => out.push(GroupEntry::Addr(v)),
                }
            }
            parsed.insert(group.clone(), out);
        }
        // Depth-first, memoized: each group's set is built once, after the
        // groups it names; meeting a group that is still open is a cycle.
        let mut sets: BTreeMap<String, AddrSet> = BTreeMap::new();
        for name in parsed.keys() {
            let mut stack = Vec::new();
            group_set(name, &parsed, &mut sets, &mut stack)?;
        }
        self.ip_groups = parsed;
        self.group_sets = sets;
        Ok(())
    }

    pub(crate) fn routes(&self) -> &[Route] {
        &self.routes
    }

    pub(crate) fn ip_group(&self, name: &str) -> Option<&[GroupEntry]> {
        self.ip_groups.get(name).map(Vec::as_slice)
    }

    pub(crate) fn ip_group_set(&self, name: &str) -> Option<&AddrSet> {
        self.group_sets.get(name)
    }

    pub(crate) fn user(&self, name: &str) -> Option<&[AddrValue]> {
        self.users.get(name).map(Vec::as_slice)
    }

    pub(crate) fn user_set(&self, name: &str) -> Option<&AddrSet> {
        self.user_sets.get(name)
    }

    pub(crate) fn user_group(&self, name: &str) -> Option<&[String]> {
        self.user_groups.get(name).map(Vec::as_slice)
    }

    /// Destination addresses whose longest-prefix route leaves through an
    /// interface for which `pick` is true.
    pub(crate) fn routed_to(&self, pick: impl Fn(IfIndex) -> bool) -> AddrSet {
        AddrSet {
            v4: IntervalSet::from_ranges(
                self.lpm_v4
                    .iter()
                    .filter(|s| pick(s.2))
                    .map(|s| (s.0, s.1))
                    .collect(),
            ),
            v6: IntervalSet::from_ranges(
                self.lpm_v6
                    .iter()
                    .filter(|s| pick(s.2))
                    .map(|s| (s.0, s.1))
                    .collect(),
            ),
        }
    }
}

fn group_set(
    name: &str,
    groups: &BTreeMap<String, Vec<GroupEntry>>,
    sets: &mut BTreeMap<String, AddrSet>,
    open: &mut Vec<String>,
) -> Result<(), DirectoryError> {
    if sets.contains_key(name) {
        return Ok(());
    }
    if let Some(i) = open.iter().position(|g| g == name) {
        let mut cycle = open[i..].to_vec();
        cycle.push(name.to_string());
        return Err(DirectoryError::GroupCycle(cycle));
    }
    open.push(name.to_string());
    let mut set = SetBuilder::default();
    for entry in groups.get(name).map(Vec::as_slice).unwrap_or(&[]) {
        match entry {
            GroupEntry::Addr(v) => set.add_leaf(v),
            GroupEntry::Group(g) => {
                group_set(g, groups, sets, open)?;
                if let Some(s) = sets.get(g) {
                    set.add_set(s);
                }
            }
        }
    }
    open.pop();
    sets.insert(name.to_string(), set.build());
    Ok(())
}

/// Collects intervals of both families before merging them.
#[derive(Default)]
pub(crate) struct SetBuilder {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl SetBuilder {
    /// Adds a host, subnet or range (names are ignored: resolve them first).
    pub(crate) fn add_leaf(&mut self, v: &AddrValue) {
        match *v {
            AddrValue::V4Host(a) => self.v4.push((a.into(), a.into())),
            AddrValue::V4Mask { addr, mask } => {
                let m = u32::from(mask);
                let net = u32::from(addr) & m;
                self.v4.push((net, net | !m));
            }
            AddrValue::V4Prefix { addr, len } => {
                let m = mask32(len);
                let net = u32::from(addr) & m;
                self.v4.push((net, net | !m));
            }
            AddrValue::V4Range { first, last } => self.v4.push((first.into(), last.into())),
            AddrValue::V6Host(a) => self.v6.push((a.into(), a.into())),
            AddrValue::V6Prefix { addr, len } => {
                let m = mask128(len);
                let net = u128::from(addr) & m;
                self.v6.push((net, net | !m));
            }
            AddrValue::V6Range { first, last } => self.v6.push((first.into(), last.into())),
            AddrValue::List { .. } | AddrValue::Users(_) => {}
        }
    }

    /// Adds every interval of `s`.
    pub(crate) fn add_set(&mut self, s: &AddrSet) {
        self.v4.extend_from_slice(s.v4.ranges());
        self.v6.extend_from_slice(s.v6.ranges());
    }

    /// Sorts and merges.
    pub(crate) fn build(self) -> AddrSet {
        AddrSet {
            v4: IntervalSet::from_ranges(self.v4),
            v6: IntervalSet::from_ranges(self.v6),
        }
    }
}

/// The IPv4 netmask of a prefix length (lengths above 32 count as 32).
pub(crate) fn mask32(len: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(len.min(32)))
        .unwrap_or(0)
}

/// The IPv6 netmask of a prefix length (lengths above 128 count as 128).
pub(crate) fn mask128(len: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(len.min(128)))
        .unwrap_or(0)
}

fn v4_prefix(addr: u32, len: u8) -> Prefix {
    Prefix::V4 {
        net: addr & mask32(len),
        len,
    }
}

fn v6_prefix(addr: u128, len: u8) -> Prefix {
    Prefix::V6 {
        net: addr & mask128(len),
        len,
    }
}

/// Overwrites `[lo, hi]` in a list of disjoint segments with `id`.
fn paint<T: Point>(segs: &mut Vec<(T, T, IfIndex)>, lo: T, hi: T, id: IfIndex) {
    let mut out = Vec::with_capacity(segs.len() + 2);
    for &(a, b, x) in segs.iter() {
        if b < lo || a > hi {
            out.push((a, b, x));
            continue;
        }
        if a < lo {
            if let Some(p) = lo.pred() {
                out.push((a, p, x));
            }
        }
        if b > hi {
            if let Some(n) = hi.succ() {
                out.push((n, b, x));
            }
        }
    }
    out.push((lo, hi, id));
    out.sort_by_key(|s| s.0);
    *segs = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b() -> DirectoryBuilder {
        Directory::builder()
            .interface("LAN", InterfaceKind::Ethernet)
            .interface("VPN", InterfaceKind::VpnTunnel)
    }

    #[test]
    fn rejects_inconsistent_directories_naming_the_culprit() {
        let cases: Vec<(DirectoryBuilder, &str)> = vec![
            (
                b().interface("LAN", InterfaceKind::VpnClient),
                "interface name \"LAN\" is used twice",
            ),
            (
                b().route("10.0.0.0/33", "LAN"),
                "route \"10.0.0.0/33\": IPv4 prefix length `33` is out of range (0-32)",
            ),
            (
                b().route("10.0.0.1-10.0.0.9", "LAN"),
                "route \"10.0.0.1-10.0.0.9\": a route needs a host or a subnet",
            ),
            (
                b().route("10.0.0.0/8", "WAN"),
                "route \"10.0.0.0/8\" names unknown interface \"WAN\"",
            ),
            (
                b().route("10.0.0.0/8", "LAN").route("10.1.0.0/255.0.0.0", "VPN"),
                "routes \"10.0.0.0/8\" and \"10.1.0.0/255.0.0.0\" have the same prefix",
            ),
            (
                b().ip_group("g", &["10.0.0.1", "300.0.0.1"]),
                "IP group \"g\", entry \"300.0.0.1\": invalid IPv4 address `300.0.0.1`",
            ),
            (
                b().ip_group("g", &["list:\"h\""]),
                "IP group \"g\" names unknown IP group \"h\"",
            ),
            (
                b().ip_group("g", &["user:\"bob\""]),
                "IP group \"g\", entry \"user:\\\"bob\\\"\": user lists are not allowed in IP groups",
            ),
            (
                b().ip_group("a", &["list:\"b\""])
                    .ip_group("b", &["list:\"c\""])
                    .ip_group("c", &["list:\"a\""]),
                "IP groups refer to each other in a cycle: a -> b -> c -> a",
            ),
            (
                b().ip_group("self", &["1.2.3.4", "list:\"self\""]),
                "IP groups refer to each other in a cycle: self -> self",
            ),
            (
                b().user("bob", &["10.0.0.0/255.0.0.255"]),
                "user \"bob\", address \"10.0.0.0/255.0.0.255\": subnet mask `255.0.0.255` is \
                 not contiguous (its one bits must come first)",
            ),
            (
                b().user("bob", &["list:\"g\""]),
                "user \"bob\", address \"list:\\\"g\\\"\": a user's address must be a host, \
                 subnet or range",
            ),
            (
                b().user("bob", &[]).user_group("ops", &["bob", "eve"]),
                "user group \"ops\" names unknown user \"eve\"",
            ),
        ];
        for (builder, want) in cases {
            let e = builder.build().expect_err(want);
            assert_eq!(e.to_string(), want);
        }
    }

    #[test]
    fn looks_up_interfaces() {
        let d = b().build().expect("valid");
        assert_eq!(d.interface_index("VPN"), Some(IfIndex(1)));
        assert_eq!(d.interface_index("vpn"), None);
        assert_eq!(
            d.interface(IfIndex(1)).map(|i| i.kind),
            Some(InterfaceKind::VpnTunnel)
        );
        assert_eq!(d.interface(IfIndex(2)), None);
        assert!(Directory::default().interfaces().is_empty());
    }

    #[test]
    fn groups_fold_into_merged_sets() {
        let d = b()
            .ip_group("a", &["10.0.0.0/24", "10.0.1.0-10.0.1.255", "list:\"b\""])
            .ip_group(
                "b",
                &["10.0.2.0/255.255.255.0", "2001:db8::1", "list:\"c\""],
            )
            .ip_group("c", &[])
            .build()
            .expect("valid");
        let a = d.ip_group_set("a").expect("a exists");
        assert_eq!(a.v4.ranges(), &[(0x0a00_0000, 0x0a00_02ff)]);
        let h: u128 = "2001:db8::1"
            .parse::<std::net::Ipv6Addr>()
            .expect("addr")
            .into();
        assert_eq!(a.v6.ranges(), &[(h, h)]);
        assert!(d.ip_group_set("c").expect("c exists").v4.is_empty());
    }

    #[test]
    fn longest_prefix_wins_in_route_segments() {
        let d = b()
            .route("0.0.0.0/0", "LAN")
            .route("10.0.0.0/8", "VPN")
            .route("10.1.0.0/16", "LAN")
            .route("10.1.2.3", "VPN")
            .build()
            .expect("valid");
        let vpn = d.routed_to(|i| i == IfIndex(1));
        assert_eq!(
            vpn.v4.ranges(),
            &[
                (0x0a00_0000, 0x0a00_ffff),
                (0x0a01_0203, 0x0a01_0203),
                (0x0a02_0000, 0x0aff_ffff)
            ]
        );
        let lan = d.routed_to(|i| i == IfIndex(0));
        assert_eq!(
            lan.v4.ranges(),
            &[
                (0, 0x09ff_ffff),
                (0x0a01_0000, 0x0a01_0202),
                (0x0a01_0204, 0x0a01_ffff),
                (0x0b00_0000, u32::MAX)
            ]
        );
        assert!(lan.v6.is_empty());
    }

    #[test]
    fn masks_of_prefix_lengths() {
        assert_eq!(
            [0, 1, 8, 31, 32, 40].map(mask32),
            [0, 0x8000_0000, 0xff00_0000, 0xffff_fffe, u32::MAX, u32::MAX]
        );
        assert_eq!(mask128(0), 0);
        assert_eq!(mask128(128), u128::MAX);
        assert_eq!(mask128(64), u128::MAX << 64);
    }
}
