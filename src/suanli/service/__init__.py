"""suanli.service"""
