//! Reading pcap/pcapng captures and writing Wireshark-readable dumps (stub: being implemented).
