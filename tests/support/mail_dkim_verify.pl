#!/usr/bin/env perl
# Independent DKIM check with Debian's Mail::DKIM and a stub resolver (no network).
# usage: mail_dkim_verify.pl SELECTOR_TXT_FILE < message.eml ; exit 0 on pass
# The file holds one TXT record, or 'selector<TAB>record' lines for several selectors.
# Prints the overall result, then each signature's.
use strict; use warnings; use Mail::DKIM::Verifier; use Mail::DKIM::DNS; use Net::DNS;
my ($f) = @ARGV; open my $fh, '<', $f or die; local $/; my $txt = <$fh>; close $fh; chomp $txt;
my %by_selector = map { split /\t/, $_, 2 } grep { /\t/ } split /\n/, $txt;
package StubResolver {
  sub new { my ($c, $t) = @_; bless { t => $t }, $c }
  sub send { my ($s, $name, $type) = @_;
    my ($sel) = $name =~ /^([^.]+)\._domainkey\./;
    my $t = (defined $sel && exists $by_selector{$sel}) ? $by_selector{$sel} : $s->{t};
    my $p = Net::DNS::Packet->new($name, $type); $p->header->rcode('NOERROR');
    $p->push(answer => Net::DNS::RR->new(name => $name, type => 'TXT',
                                         txtdata => [ unpack('(A255)*', $t) ]));
    return $p }
  sub errorstring { 'NOERROR' }
}
Mail::DKIM::DNS::resolver(StubResolver->new($txt));
my $v = Mail::DKIM::Verifier->new(); $/ = "\n";
while (my $l = <STDIN>) { $l =~ s/\r?\n\z/\r\n/; $v->PRINT($l) } $v->CLOSE;
print "result=", $v->result, " detail=", $v->result_detail, "\n";
my @sigs = $v->signatures;
print "signature a=", $_->algorithm, " result=", $_->result, " detail=", ($_->result_detail // ""), "\n" for @sigs;
exit($v->result eq 'pass' ? 0 : 1);
