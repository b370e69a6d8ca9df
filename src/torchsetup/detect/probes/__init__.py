"""detect/probes"""
