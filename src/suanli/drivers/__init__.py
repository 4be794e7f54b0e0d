"""suanli.drivers"""
