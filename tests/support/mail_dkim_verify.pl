#!/usr/bin/env perl
# Independent DKIM check with Debian's Mail::DKIM and a stub resolver (no network).
# usage: mail_dkim_verify.pl SELECTOR_TXT_FILE < message.eml ; exit 0 on pass
use strict; use warnings; use Mail::DKIM::Verifier; use Mail::DKIM::DNS; use Net::DNS;
my ($f) = @ARGV; open my $fh, '<', $f or die; local $/; my $txt = <$fh>; close $fh; chomp $txt;
package StubResolver {
  sub new { my ($c, $t) = @_; bless { t => $t }, $c }
  sub send { my ($s, $name, $type) = @_;
    my $p = Net::DNS::Packet->new($name, $type); $p->header->rcode('NOERROR');
    $p->push(answer => Net::DNS::RR->new(name => $name, type => 'TXT',
                                         txtdata => [ unpack('(A255)*', $s->{t}) ]));
    return $p }
  sub errorstring { 'NOERROR' }
}
Mail::DKIM::DNS::resolver(StubResolver->new($txt));
my $v = Mail::DKIM::Verifier->new(); $/ = "\n";
while (my $l = <STDIN>) { $l =~ s/\r?\n\z/\r\n/; $v->PRINT($l) } $v->CLOSE;
print "result=", $v->result, " detail=", $v->result_detail, "\n";
exit($v->result eq 'pass' ? 0 : 1);
