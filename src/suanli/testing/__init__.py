"""suanli.testing"""
